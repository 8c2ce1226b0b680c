//! libtorch's CUDA backend, loaded at run time, and what `doctor` reports.
//!
//! libtorch registers its CUDA backend only when `libtorch_cuda.so` is
//! loaded. Linking it in makes the binary need cuBLAS, cuDNN, cuSPARSE and
//! the rest at start-up, so a CPU machine with the lean install (torch
//! without its CUDA libraries, `scripts/setup.sh`) could not start it at
//! all. Instead the binaries `dlopen` it (`RTLD_NOW | RTLD_GLOBAL`) from the
//! folder of the `libtorch_cpu.so` they run with, before the first CUDA
//! query ([`load`], called first thing in `main` and by
//! [`crate::config::DeviceChoice::device`]). Its CUDA libraries are found as
//! PyTorch's own `import torch` finds them: on the library path, else in the
//! wheel's `site-packages/nvidia/*/lib` folders, each preloaded when the
//! loader names it missing. Where loading fails, the loader's message (it
//! names the missing library) is kept for `doctor` and for the error of
//! `--device cuda`.

use std::collections::BTreeSet;
use std::ffi::{c_char, c_int, c_uint, CStr};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};

/// The library that registers libtorch's CUDA backend.
pub const TORCH_CUDA: &str = "libtorch_cuda.so";
const TORCH_CPU: &str = "libtorch_cpu.so";

/// What became of `libtorch_cuda.so`.
#[derive(Debug)]
pub enum CudaLibrary {
    /// Loaded: libtorch's CUDA backend is registered.
    Loaded {
        path: PathBuf,
        /// CUDA libraries preloaded from the wheel's `nvidia/*/lib` folders.
        preloaded: Vec<PathBuf>,
    },
    /// The libtorch in use has no `libtorch_cuda.so`: a CPU-only build.
    CpuOnlyLibtorch { lib_dir: PathBuf },
    /// It is there but does not load; `error` is the loader's message.
    Failed { path: PathBuf, error: String },
    /// The folder of the running libtorch could not be found.
    NoLibtorch,
}

struct State {
    library: CudaLibrary,
    /// Kept open for the life of the process (closing would unregister CUDA).
    _handles: Vec<Library>,
}

static STATE: OnceLock<State> = OnceLock::new();

/// Loads `libtorch_cuda.so` once (later calls return the first outcome).
/// Call it before anything asks libtorch about CUDA: libtorch caches its
/// answer.
pub fn load() -> &'static CudaLibrary {
    &STATE.get_or_init(load_now).library
}

/// The paths of the shared objects loaded in this process.
pub fn loaded_objects() -> Vec<PathBuf> {
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> c_int {
        // SAFETY: the loader passes a valid info; data is the Vec given below.
        let (info, out) = unsafe { (&*info, &mut *(data as *mut Vec<PathBuf>)) };
        if !info.dlpi_name.is_null() {
            // SAFETY: dlpi_name is a NUL-terminated string owned by the loader.
            let name = unsafe { CStr::from_ptr(info.dlpi_name) };
            if !name.to_bytes().is_empty() {
                out.push(PathBuf::from(name.to_string_lossy().into_owned()));
            }
        }
        0
    }
    let mut out: Vec<PathBuf> = Vec::new();
    // SAFETY: the callback only reads the info it is given and pushes to `out`.
    unsafe { libc::dl_iterate_phdr(Some(each), &mut out as *mut Vec<PathBuf> as *mut _) };
    out
}

/// The first loaded object whose file name starts with `prefix`.
fn loaded(prefix: &str) -> Option<PathBuf> {
    loaded_objects().into_iter().find(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(prefix))
    })
}

/// The folder of the `libtorch_cpu.so` this process runs with.
pub fn libtorch_lib_dir() -> Option<PathBuf> {
    let path = loaded(TORCH_CPU)?;
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    path.parent().map(Path::to_path_buf)
}

/// Folders that may hold the CUDA libraries of a PyPI torch wheel: its own
/// `lib` and the `site-packages/nvidia/*/lib` folders beside it.
fn wheel_library_dirs(lib_dir: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![lib_dir.to_owned()];
    if let Some(site) = lib_dir.parent().and_then(Path::parent) {
        if let Ok(entries) = std::fs::read_dir(site.join("nvidia")) {
            let mut found: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path().join("lib"))
                .filter(|p| p.is_dir())
                .collect();
            found.sort();
            dirs.extend(found);
        }
    }
    dirs
}

/// The library a loader message says is missing, if it says so.
fn missing_library(message: &str) -> Option<&str> {
    let (before, _) = message.split_once(": cannot open shared object file")?;
    before.rsplit(": ").next().map(str::trim)
}

fn open(path: &Path) -> Result<Library, String> {
    // SAFETY: loading runs the library's initialisers; these are libtorch's
    // and CUDA's own libraries, loaded as `import torch` loads them.
    unsafe { Library::open(Some(path), RTLD_NOW | RTLD_GLOBAL) }.map_err(|e| e.to_string())
}

/// Opens `path`; each library the loader names missing is looked up in
/// `dirs`, opened first (with its own missing dependencies) and the open
/// tried again.
fn open_with_dependencies(
    path: &Path,
    dirs: &[PathBuf],
    tried: &mut BTreeSet<String>,
    handles: &mut Vec<Library>,
    preloaded: &mut Vec<PathBuf>,
) -> Result<Library, String> {
    loop {
        let error = match open(path) {
            Ok(lib) => return Ok(lib),
            Err(e) => e,
        };
        let Some(missing) = missing_library(&error) else {
            return Err(error);
        };
        // A library tried before is missing again: give up with the message.
        if !tried.insert(missing.to_owned()) || tried.len() > 64 {
            return Err(error);
        }
        let Some(found) = dirs.iter().map(|d| d.join(missing)).find(|p| p.is_file()) else {
            return Err(error);
        };
        let lib = open_with_dependencies(&found, dirs, tried, handles, preloaded)?;
        handles.push(lib);
        preloaded.push(found);
    }
}

fn load_now() -> State {
    let Some(lib_dir) = libtorch_lib_dir() else {
        return State {
            library: CudaLibrary::NoLibtorch,
            _handles: Vec::new(),
        };
    };
    let path = lib_dir.join(TORCH_CUDA);
    if !path.is_file() {
        return State {
            library: CudaLibrary::CpuOnlyLibtorch { lib_dir },
            _handles: Vec::new(),
        };
    }
    let dirs = wheel_library_dirs(&lib_dir);
    let (mut handles, mut preloaded) = (Vec::new(), Vec::new());
    let library = match open_with_dependencies(
        &path,
        &dirs,
        &mut BTreeSet::new(),
        &mut handles,
        &mut preloaded,
    ) {
        Ok(lib) => {
            handles.push(lib);
            CudaLibrary::Loaded { path, preloaded }
        }
        Err(error) => CudaLibrary::Failed { path, error },
    };
    State {
        library,
        _handles: handles,
    }
}

/// The NVIDIA driver as the driver API (`libcuda.so.1`) reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Driver {
    /// No `libcuda.so.1`: no NVIDIA driver on this machine.
    Absent(String),
    /// The driver is there; `init` is `cuInit`'s result code (0 = success,
    /// 100 = no device).
    Present {
        /// CUDA version the driver supports, e.g. 13000 for 13.0.
        version: i32,
        init: i32,
        devices: Vec<GpuInfo>,
    },
}

/// One GPU as the driver reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuInfo {
    pub name: String,
    pub memory_bytes: u64,
    pub capability: (i32, i32),
}

type CuInit = unsafe extern "C" fn(c_uint) -> c_int;
type CuVersion = unsafe extern "C" fn(*mut c_int) -> c_int;
type CuDeviceGet = unsafe extern "C" fn(*mut c_int, c_int) -> c_int;
type CuDeviceGetName = unsafe extern "C" fn(*mut c_char, c_int, c_int) -> c_int;
type CuDeviceTotalMem = unsafe extern "C" fn(*mut usize, c_int) -> c_int;
type CuDeviceGetAttribute = unsafe extern "C" fn(*mut c_int, c_int, c_int) -> c_int;
type CudnnGetVersion = unsafe extern "C" fn() -> usize;

/// Asks the driver API for its version and devices.
pub fn driver() -> Driver {
    // SAFETY: the NVIDIA driver library, loaded as the CUDA runtime loads it.
    let lib = match unsafe { Library::open(Some("libcuda.so.1"), RTLD_NOW) } {
        Ok(lib) => lib,
        Err(e) => return Driver::Absent(e.to_string()),
    };
    // SAFETY: the driver API's C signatures (cuda.h), stable across versions.
    unsafe {
        let sym = |name: &[u8]| lib.get::<*const ()>(name).map(|s| *s).ok();
        let (Some(init), Some(version), Some(count)) = (
            sym(b"cuInit\0"),
            sym(b"cuDriverGetVersion\0"),
            sym(b"cuDeviceGetCount\0"),
        ) else {
            return Driver::Absent("libcuda.so.1 lacks cuInit or cuDriverGetVersion".into());
        };
        let init: CuInit = std::mem::transmute(init);
        let get_version: CuVersion = std::mem::transmute(version);
        let count: CuVersion = std::mem::transmute(count);
        let mut v = 0;
        get_version(&mut v);
        let init = init(0);
        let mut devices = Vec::new();
        let mut n = 0;
        if init == 0 && count(&mut n) == 0 {
            let get: Option<CuDeviceGet> = sym(b"cuDeviceGet\0").map(|s| std::mem::transmute(s));
            let name: Option<CuDeviceGetName> =
                sym(b"cuDeviceGetName\0").map(|s| std::mem::transmute(s));
            let mem: Option<CuDeviceTotalMem> =
                sym(b"cuDeviceTotalMem_v2\0").map(|s| std::mem::transmute(s));
            let attr: Option<CuDeviceGetAttribute> =
                sym(b"cuDeviceGetAttribute\0").map(|s| std::mem::transmute(s));
            if let (Some(get), Some(name), Some(mem), Some(attr)) = (get, name, mem, attr) {
                for i in 0..n {
                    let mut dev = 0;
                    if get(&mut dev, i) != 0 {
                        continue;
                    }
                    let mut buf = [0 as c_char; 256];
                    name(buf.as_mut_ptr(), buf.len() as c_int, dev);
                    let mut bytes = 0usize;
                    mem(&mut bytes, dev);
                    // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR.
                    let (mut major, mut minor) = (0, 0);
                    attr(&mut major, 75, dev);
                    attr(&mut minor, 76, dev);
                    devices.push(GpuInfo {
                        name: CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned(),
                        memory_bytes: bytes as u64,
                        capability: (major, minor),
                    });
                }
            }
        }
        Driver::Present {
            version: v,
            init,
            devices,
        }
    }
}

/// The CUDA runtime version of the loaded `libcudart` (e.g. 13000).
pub fn runtime_version() -> Option<i32> {
    let path = loaded("libcudart.so")?;
    // SAFETY: the already loaded CUDA runtime; cudaRuntimeGetVersion(int*).
    unsafe {
        let lib = Library::open(Some(&path), RTLD_NOW).ok()?;
        let f: CuVersion = *lib.get(b"cudaRuntimeGetVersion\0").ok()?;
        let mut v = 0;
        (f(&mut v) == 0).then_some(v)
    }
}

/// The version of the loaded cuDNN (e.g. 91900 for 9.19.0).
pub fn cudnn_version() -> Option<usize> {
    let path = loaded("libcudnn.so")?;
    // SAFETY: the already loaded cuDNN; size_t cudnnGetVersion(void).
    unsafe {
        let lib = Library::open(Some(&path), RTLD_NOW).ok()?;
        let f: CudnnGetVersion = *lib.get(b"cudnnGetVersion\0").ok()?;
        Some(f())
    }
}

/// "13.0" from 13000.
fn cuda_version(v: i32) -> String {
    format!("{}.{}", v / 1000, (v % 1000) / 10)
}

/// "9.19.0" from cuDNN's 91900.
fn cudnn_text(v: usize) -> String {
    format!("{}.{}.{}", v / 10000, (v % 10000) / 100, v % 100)
}

/// Why `--device cuda` cannot work here, and the fix; `None` when it can.
pub fn unusable() -> Option<(String, String)> {
    match load() {
        CudaLibrary::NoLibtorch => {
            return Some((
                "the folder of the running libtorch_cpu.so could not be found".into(),
                "run the skel-trainer built by scripts/setup.sh and cargo (see the README)".into(),
            ))
        }
        CudaLibrary::CpuOnlyLibtorch { lib_dir } => {
            return Some((
                format!(
                    "the libtorch in {} is a CPU-only build (it has no {TORCH_CUDA})",
                    lib_dir.display()
                ),
                "build skel-trainer against the CUDA libtorch of the PyPI torch wheel: \
                 ./scripts/setup.sh --cuda, then cargo build --release -p skel-trainer"
                    .into(),
            ))
        }
        CudaLibrary::Failed { error, .. } => {
            return Some((
                format!("libtorch's CUDA library does not load: {error}"),
                "install the CUDA libraries of the torch wheel into the project's venv: \
                 ./scripts/setup.sh --cuda (or put their folders on LD_LIBRARY_PATH)"
                    .into(),
            ))
        }
        CudaLibrary::Loaded { .. } => {}
    }
    if tch::Cuda::is_available() {
        return None;
    }
    Some(match driver() {
        Driver::Absent(e) => (
            format!("no NVIDIA driver: {e}"),
            "run on a machine with an NVIDIA GPU and its driver (nvidia-smi must work)".into(),
        ),
        Driver::Present { version, init, .. } => {
            let runtime = runtime_version();
            match runtime {
                Some(r) if version < r => (
                    format!(
                        "the NVIDIA driver supports CUDA {} but this libtorch needs CUDA {}",
                        cuda_version(version),
                        cuda_version(r)
                    ),
                    "update the NVIDIA driver (CUDA 13.0 needs driver 580 or newer)".into(),
                ),
                _ if init == 100 => (
                    "the NVIDIA driver sees no GPU (cuInit: no device)".into(),
                    "check nvidia-smi and CUDA_VISIBLE_DEVICES".into(),
                ),
                _ if init != 0 => (
                    format!("the NVIDIA driver failed to start (cuInit error {init})"),
                    "check nvidia-smi; a reboot after a driver update often fixes this".into(),
                ),
                _ => (
                    "libtorch sees no CUDA device although the driver does".into(),
                    "check CUDA_VISIBLE_DEVICES".into(),
                ),
            }
        }
    })
}

/// The error of `--device cuda` where it cannot work.
pub fn device_error() -> Option<String> {
    unusable().map(|(what, fix)| {
        format!(
            "device cuda was asked for, but {what}. Fix: {fix}. \
             `skel-trainer doctor` shows the whole diagnosis; use device: cpu to train on the CPU"
        )
    })
}

/// The libtorch version of the wheel the library folder belongs to
/// (`torch/version.py`), if it says.
pub fn libtorch_version(lib_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(lib_dir.parent()?.join("version.py")).ok()?;
    let line = text.lines().find(|l| l.starts_with("__version__"))?;
    Some(
        line.split_once('=')?
            .1
            .trim()
            .trim_matches(['\'', '"'])
            .to_owned(),
    )
}

/// `skel-trainer doctor`'s report: libtorch, its CUDA library, the driver,
/// the devices, threads and the text encoder weights. Ends with the verdict
/// on `--device cuda`.
pub fn doctor_report() -> (String, bool) {
    let mut s = String::new();
    let lib_dir = libtorch_lib_dir();
    let _ = writeln!(
        s,
        "libtorch:         {} ({})",
        lib_dir
            .as_deref()
            .and_then(libtorch_version)
            .unwrap_or_else(|| "version unknown".into()),
        lib_dir
            .as_ref()
            .map_or_else(|| "folder not found".into(), |d| d.display().to_string())
    );
    match load() {
        CudaLibrary::Loaded { path, preloaded } => {
            let _ = writeln!(s, "libtorch_cuda:    loaded ({})", path.display());
            if !preloaded.is_empty() {
                let _ = writeln!(
                    s,
                    "                  {} CUDA libraries preloaded from the wheel's nvidia/*/lib folders",
                    preloaded.len()
                );
            }
        }
        CudaLibrary::Failed { path, error } => {
            let _ = writeln!(
                s,
                "libtorch_cuda:    not loaded ({}): {error}",
                path.display()
            );
        }
        CudaLibrary::CpuOnlyLibtorch { .. } => {
            let _ = writeln!(
                s,
                "libtorch_cuda:    absent: this libtorch is a CPU-only build"
            );
        }
        CudaLibrary::NoLibtorch => {
            let _ = writeln!(s, "libtorch_cuda:    not looked for (libtorch not found)");
        }
    }
    let loaded_cuda = matches!(load(), CudaLibrary::Loaded { .. });
    let available = loaded_cuda && tch::Cuda::is_available();
    let _ = writeln!(
        s,
        "CUDA:             {}{}",
        if available {
            "available"
        } else {
            "not available"
        },
        runtime_version().map_or_else(String::new, |v| format!(
            " (CUDA runtime library {} loaded)",
            cuda_version(v)
        ))
    );
    match driver() {
        Driver::Absent(e) => {
            let _ = writeln!(s, "NVIDIA driver:    none ({e})");
        }
        Driver::Present {
            version,
            init,
            devices,
        } => {
            let _ = writeln!(
                s,
                "NVIDIA driver:    supports CUDA {}{}",
                cuda_version(version),
                if init == 0 {
                    String::new()
                } else {
                    format!(" (cuInit error {init})")
                }
            );
            if devices.is_empty() {
                let _ = writeln!(s, "GPUs:             none found");
            }
            for (i, d) in devices.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "GPU {i}:            {}, {:.1} GiB, compute capability {}.{}",
                    d.name,
                    d.memory_bytes as f64 / (1u64 << 30) as f64,
                    d.capability.0,
                    d.capability.1
                );
            }
        }
    }
    if loaded_cuda {
        let _ = writeln!(
            s,
            "libtorch devices: {}",
            if available {
                tch::Cuda::device_count()
            } else {
                0
            }
        );
    }
    let _ = writeln!(
        s,
        "cuDNN:            {}",
        match (
            available && tch::Cuda::cudnn_is_available(),
            cudnn_version()
        ) {
            (true, Some(v)) => format!("available ({})", cudnn_text(v)),
            (true, None) => "available".into(),
            (false, Some(v)) => format!("not available (library {} loaded)", cudnn_text(v)),
            (false, None) => "not available".into(),
        }
    );
    let _ = writeln!(
        s,
        "CPU threads:      {} intra-op (libtorch; set OMP_NUM_THREADS to change), {} cores online",
        tch::get_num_threads(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let _ = writeln!(
        s,
        "Sentence-BERT:    {}",
        match crate::text::bert::SentenceBert::locate(None) {
            Ok(dir) => dir.display().to_string(),
            Err(e) => format!("not found: {e}"),
        }
    );
    let verdict = unusable();
    match &verdict {
        None => {
            let _ = writeln!(s, "--device cuda:    ready");
        }
        Some((what, fix)) => {
            let _ = writeln!(s, "--device cuda:    cannot work: {what}");
            let _ = writeln!(s, "fix:              {fix}");
        }
    }
    (s, verdict.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_missing_library_is_read_from_the_loader_message() {
        assert_eq!(
            missing_library(
                "libcusparse.so.12: cannot open shared object file: No such file or directory"
            ),
            Some("libcusparse.so.12")
        );
        assert_eq!(
            missing_library("/x/libtorch_cuda.so: libcufile.so.0: cannot open shared object file: No such file or directory"),
            Some("libcufile.so.0")
        );
        assert_eq!(missing_library("undefined symbol: foo"), None);
    }

    #[test]
    fn versions_read_as_people_write_them() {
        assert_eq!(cuda_version(13000), "13.0");
        assert_eq!(cuda_version(12080), "12.8");
        assert_eq!(cudnn_text(91900), "9.19.0");
    }

    #[test]
    fn the_running_libtorch_is_found() {
        let dir = libtorch_lib_dir().expect("libtorch_cpu.so is loaded");
        assert!(dir.join(TORCH_CPU).is_file(), "{}", dir.display());
    }
}
