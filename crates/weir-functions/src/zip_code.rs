//! Deployment packages: a zip unpacked into its own directory, never outside it.

use std::io::Cursor;
use std::path::Path;

/// Unpacks `zip` into `dir` (created afresh). File modes from the archive are kept, so a
/// custom runtime's `bootstrap` stays executable. Err = Lambda's message for a bad package.
pub(crate) fn unpack(zip: &[u8], dir: &Path) -> Result<(), String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip))
        .map_err(|e| format!("Could not unzip uploaded file. Please check your file, then try to upload again. ({e})"))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    archive
        .extract(dir)
        .map_err(|e| format!("Could not unzip uploaded file. Please check your file, then try to upload again. ({e})"))
}
