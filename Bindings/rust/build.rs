//! Links libclarifai: from $CLARIFAI_LIB_DIR when set (the tree's build/lib, with a run path so
//! that this crate's tests and examples find it), else where pkg-config says, else where the
//! linker looks by default.
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CLARIFAI_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    if let Some(dir) = env::var_os("CLARIFAI_LIB_DIR") {
        let dir = dir.to_string_lossy();
        println!("cargo:rustc-link-search=native={dir}");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    } else if let Ok(output) = Command::new("pkg-config")
        .args(["--libs-only-L", "clarifai"])
        .output()
    {
        if output.status.success() {
            for flag in String::from_utf8_lossy(&output.stdout).split_whitespace() {
                if let Some(dir) = flag.strip_prefix("-L") {
                    println!("cargo:rustc-link-search=native={dir}");
                }
            }
        }
    }
    println!("cargo:rustc-link-lib=dylib=clarifai");
}
