//! `streamkit`: secure multiplexed pipes over SSH, from the command line.
//!
//! Subcommands: `keygen`, `serve`, `open`, `forward`, `ping`, `bench`, `completions`, `man`. See `streamkit --help`
//! and streamkit-cli/README.md.

mod bench;
mod common;
mod forward;
mod keygen;
mod open;
mod ping;
mod progress;
mod serve;
mod status;

use clap::{CommandFactory, Parser, Subcommand};
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
    Ping(ping::PingArgs),
    Bench(bench::BenchArgs),
    Completions(CompletionsArgs),
    Man(ManArgs),
}

/// Print a shell completion script on stdout.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  streamkit completions bash > ~/.local/share/bash-completion/completions/streamkit
  streamkit completions zsh > ~/.zfunc/_streamkit      # with fpath+=~/.zfunc
  streamkit completions fish > ~/.config/fish/completions/streamkit.fish")]
struct CompletionsArgs {
    /// The shell to complete for.
    shell: clap_complete::Shell,
}

/// Print the man page (roff) on stdout, or write one page per subcommand.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  streamkit man | man -l -
  streamkit man --dir ~/.local/share/man/man1    # streamkit.1, streamkit-serve.1, ...")]
struct ManArgs {
    /// Write streamkit.1 and streamkit-SUBCOMMAND.1 into this existing directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
}

fn completions(a: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    // Into a buffer first: clap_complete panics when its writer fails.
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "streamkit", &mut buf);
    write_stdout(&buf)
}

/// Write `buf` to stdout; a reader that went away (`| head`) is not an error.
fn write_stdout(buf: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(buf).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::anyhow!("cannot write to stdout: {e}"))
        }
        _ => Ok(()),
    }
}

fn man(a: ManArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let cmd = Cli::command();
    let Some(dir) = a.dir else {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut buf)?;
        return write_stdout(&buf);
    };
    if !dir.is_dir() {
        return Err(common::usage(format!(
            "--dir {}: no such directory (create it first)",
            dir.display()
        )));
    }
    clap_mangen::generate_to(cmd.clone(), &dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    let mut pages: Vec<String> = vec!["streamkit.1".into()];
    pages.extend(
        cmd.get_subcommands()
            .map(|s| format!("streamkit-{}.1", s.get_name())),
    );
    eprintln!(
        "streamkit: wrote {} into {}",
        pages.join(", "),
        dir.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    common::raise_nofile_limit();
    let code: u8 = match cli.cmd {
        Cmd::Keygen(a) => match keygen::run(a) {
            Ok(()) => 0,
            Err(e) => common::fail(&e, common::exit::FAILURE),
        },
        Cmd::Serve(a) => common::block_on(serve::run(a)),
        Cmd::Open(a) => common::block_on(open::run(a)),
        Cmd::Forward(a) => common::block_on(forward::run(a)),
        Cmd::Ping(a) => common::block_on(ping::run(a)),
        Cmd::Bench(a) => bench::run(a),
        Cmd::Completions(a) => match completions(a) {
            Ok(()) => 0,
            Err(e) => common::fail(&e, common::exit::FAILURE),
        },
        Cmd::Man(a) => match man(a) {
            Ok(()) => 0,
            Err(e) => common::fail(&e, common::exit::FAILURE),
        },
    };
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // Exit right away: tokio's stdin reader may sit in a blocking read that a
    // runtime shutdown would wait for.
    std::process::exit(i32::from(code));
}
