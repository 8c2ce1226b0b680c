//! Bakes the libtorch library folder into the binaries' rpath, so that they
//! run without LD_LIBRARY_PATH, and tells the text encoders where that
//! venv's site-packages is (`SKEL_SITE_PACKAGES`, the folder above `torch/lib`).
use std::path::Path;

fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        if let Some(site_packages) = Path::new(&lib).parent().and_then(Path::parent) {
            println!(
                "cargo:rustc-env=SKEL_SITE_PACKAGES={}",
                site_packages.display()
            );
        }
    }
}
