//! `streamkit`: secure multiplexed pipes over SSH, from the command line.
//!
//! Subcommands: `keygen`, `serve`, `open`, `forward`, `bench`. See `streamkit --help`
//! and streamkit-cli/README.md.

mod bench;
mod common;
mod forward;
mod keygen;
mod open;
mod progress;
mod serve;

use clap::{Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;

const TOP_EXAMPLES: &str = "\
Examples:
  streamkit keygen -f server.key > server.pub
  streamkit keygen -f client.key > client.pub
  streamkit serve tcp://127.0.0.1:7000 --key server.key --authorized-keys client.pub \\
      --service echo=echo --service date=exec:date
  echo hello | streamkit open tcp://127.0.0.1:7000 echo --key client.key --authorized-keys server.pub

Trust is mutual: the server accepts only clients whose public key is in its
--authorized-keys file (default ~/.ssh/authorized_keys), and the client accepts
only a server whose host key is in its own --authorized-keys file (or
--known-hosts). Each side also trusts its own key. The identity key defaults to
~/.ssh/id_ed25519, then ~/.ssh/id_rsa.";

#[derive(Parser, Debug)]
#[command(
    name = "streamkit",
    version,
    about = "Secure multiplexed pipes over SSH: serve, open and forward streamkit channels",
    after_help = TOP_EXAMPLES
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    Keygen(keygen::KeygenArgs),
    Serve(serve::ServeArgs),
    Open(open::OpenArgs),
    Forward(forward::ForwardArgs),
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code: u8 = match cli.cmd {
        Cmd::Keygen(a) => match keygen::run(a) {
            Ok(()) => 0,
            Err(e) => {
                common::report(&e);
                1
            }
        },
        Cmd::Serve(a) => common::block_on(serve::run(a)),
        Cmd::Open(a) => common::block_on(open::run(a)),
        Cmd::Forward(a) => common::block_on(forward::run(a)),
        Cmd::Bench(a) => bench::run(a),
    };
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // Exit right away: tokio's stdin reader may sit in a blocking read that a
    // runtime shutdown would wait for.
    std::process::exit(i32::from(code));
}
