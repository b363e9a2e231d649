//! Archives: the single downloaded file of a package folder, and one member extracted from it.

use super::*;

/// The one regular, non-hidden file of `dir`; None when `dir` is missing or empty.
pub(super) fn single_file(dir: &Path) -> Result<Option<PathBuf>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if entry.file_type()?.is_file() && !hidden {
            files.push(entry.path());
        }
    }
    match files.len() {
        0 => Ok(None),
        1 => Ok(files.pop()),
        n => bail!(
            "{} holds {n} files, expected one archive: delete the folder",
            dir.display()
        ),
    }
}

pub(super) fn extract_member(archive: &Path, member: &str, out: &Path) -> Result<()> {
    let python = host_python()?;
    run_quiet(
        Command::new(python)
            .arg(py_script("extract_member.py"))
            .arg(archive)
            .arg(member)
            .arg(out),
        &format!("extracting {member} from {}", archive.display()),
    )
}
