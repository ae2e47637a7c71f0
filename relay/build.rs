//! Embeds the built widget and dashboard (`target/confab-assets`, made by `cargo xtask build-assets`)
//! into the relay binary, each file under a content-hashed name and, for text and wasm, also
//! brotli- (quality 11) and gzip-compressed, so the relay serves the very bytes the size report
//! counts without compressing anything at run time. Without that folder the relay still builds, and
//! says at run time how to build the assets.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn main() {
    println!("cargo:rerun-if-env-changed=CONFAB_ASSETS_DIR");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let dir = std::env::var_os("CONFAB_ASSETS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target/confab-assets"));
    println!("cargo:rerun-if-changed={}", dir.display());

    let mut out = String::from("pub static EMBEDDED: &[Embedded] = &[\n");
    for group in ["widget", "dashboard"] {
        let group_dir = dir.join(group);
        println!("cargo:rerun-if-changed={}", group_dir.display());
        let Ok(entries) = std::fs::read_dir(&group_dir) else { continue };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        for path in files {
            println!("cargo:rerun-if-changed={}", path.display());
            let bytes = std::fs::read(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let hash = hex8(&Sha256::digest(&bytes));
            let served = hashed_name(&name, &hash);
            let ct = content_type(&path);
            let (br, gz) = if compressible(ct) {
                let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
                let br = out_dir.join(format!("{served}.br"));
                let gz = out_dir.join(format!("{served}.gz"));
                if !br.exists() {
                    std::fs::write(&br, compress_brotli(&bytes)).unwrap();
                }
                if !gz.exists() {
                    std::fs::write(&gz, compress_gzip(&bytes)).unwrap();
                }
                (format!("include_bytes!({:?})", br.display().to_string()), format!("include_bytes!({:?})", gz.display().to_string()))
            } else {
                ("&[]".to_string(), "&[]".to_string())
            };
            writeln!(
                out,
                "    Embedded {{ group: {group:?}, name: {name:?}, served: {served:?}, content_type: {ct:?}, bytes: include_bytes!({:?}), br: {br}, gz: {gz} }},",
                path.canonicalize().unwrap().display().to_string(),
            )
            .unwrap();
        }
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded_assets.rs");
    std::fs::write(dest, out).unwrap();
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/") || content_type.contains("wasm") || content_type.contains("json")
}

fn compress_brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
    brotli::BrotliCompress(&mut &data[..], &mut out, &params).unwrap();
    out
}

fn compress_gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn hex8(digest: &[u8]) -> String {
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// `app_bg.wasm` → `app_bg-1a2b3c4d.wasm`
fn hashed_name(name: &str, hash: &str) -> String {
    match name.split_once('.') {
        Some((stem, ext)) => format!("{stem}-{hash}.{ext}"),
        None => format!("{name}-{hash}"),
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}
