//! `streamkit keygen`: write a new ed25519 identity key.

use crate::common::{self, home_ssh};
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
Writes FILE (the private key, mode 0600, OpenSSH format) and FILE.pub (its
public key line), and prints the public key line on stdout. Give that line to
the peers that must trust you (their --authorized-keys file).

Examples:
  streamkit keygen -f server.key > server.pub
  streamkit keygen                      # writes ~/.ssh/id_ed25519, the default identity";

/// Write a new ed25519 private key and print its public key line.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct KeygenArgs {
    /// Where to write the private key [default: ~/.ssh/id_ed25519].
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Overwrite FILE and FILE.pub if they exist.
    #[arg(long)]
    pub force: bool,
}

fn pub_path(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

#[cfg(unix)]
fn create(path: &Path, mode: u32, force: bool) -> Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if force && path.exists() {
        std::fs::remove_file(path).with_context(|| format!("cannot replace {}", path.display()))?;
    }
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                common::usage(format!(
                    "{} already exists: pass --force to overwrite it, or choose another -f FILE",
                    path.display()
                ))
            } else {
                anyhow!("cannot create {}: {e}", path.display())
            }
        })?;
    // The umask may have cleared bits we asked for; never leave more than asked.
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
    Ok(f)
}

#[cfg(not(unix))]
fn create(path: &Path, _mode: u32, force: bool) -> Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    if force {
        o.create(true).truncate(true);
    } else {
        o.create_new(true);
    }
    o.open(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

pub fn run(a: KeygenArgs) -> Result<()> {
    let explicit = a.file.is_some();
    let path = match a.file {
        Some(p) => p,
        None => {
            home_ssh("id_ed25519").ok_or_else(|| common::usage("HOME is not set: pass -f FILE"))?
        }
    };
    let pubp = pub_path(&path);
    if !a.force {
        for p in [&path, &pubp] {
            if p.exists() {
                return Err(common::usage(format!(
                    "{} already exists: pass --force to overwrite it, or choose another -f FILE",
                    p.display()
                )));
            }
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            // Like ssh-keygen: only the default ~/.ssh is created; a missing
            // directory in -f FILE is most likely a typo.
            if explicit {
                return Err(common::usage(format!(
                    "-f {}: directory {} does not exist (create it first)",
                    path.display(),
                    dir.display()
                )));
            }
            eprintln!("streamkit: created directory {} (mode 0700)", dir.display());
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .with_context(|| format!("cannot create directory {}", dir.display()))?;
            }
            #[cfg(not(unix))]
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create directory {}", dir.display()))?;
        }
    }

    let key = streamkit_core::generate_key();
    if key.is_empty() {
        bail!("key generation failed");
    }
    let public = streamkit_core::public_key_of(&key)
        .map_err(|e| anyhow!("cannot derive the public key of the generated key: {e}"))?;

    let mut f = create(&path, 0o600, a.force)?;
    f.write_all(key.as_bytes())
        .and_then(|_| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let mut pf = create(&pubp, 0o644, a.force)?;
    pf.write_all(format!("{public}\n").as_bytes())
        .with_context(|| format!("cannot write {}", pubp.display()))?;

    println!("{public}");
    eprintln!(
        "streamkit: wrote private key {} (mode 0600) and public key {}",
        path.display(),
        pubp.display()
    );
    Ok(())
}
