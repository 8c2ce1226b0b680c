//! The same CPU numbers on every x86-64 CPU with AVX2.
//!
//! libtorch's CPU kernels come from three libraries that each pick their code
//! path by the CPU they run on: ATen's own vectorised kernels (by instruction
//! set), oneDNN's convolutions (by instruction set) and MKL's GEMMs (by
//! instruction set and vendor). Two CPUs then round differently in the last
//! bits, and over an epoch of training that grows into different features.
//! [`pin`] caps all three at AVX2 before libtorch makes its first tensor, so
//! an AVX-512 machine computes what an AVX2-only one does, Intel and AMD alike
//! (MKL's conditional numerical reproducibility, `MKL_CBWR`). What remains
//! free (the CPU, the thread count, the libtorch build) is recorded in each
//! run's `run.yaml` by [`Numerics::now`], beside the device.
//!
//! A variable the user set is left alone, and `SKEL_NUMERICS=native` turns the
//! pinning off (each library then takes the fastest path of the CPU).

use serde::{Deserialize, Serialize};

/// The variables [`pin`] sets, and their values.
pub const PINS: [(&str, &str); 4] = [
    // MKL's conditional numerical reproducibility: the AVX2 code path on any
    // CPU that has it, whatever the vendor.
    ("MKL_CBWR", "AVX2"),
    // MKL's dispatch (a CPU without AVX-512 is limited to AVX2 anyway).
    ("MKL_ENABLE_INSTRUCTIONS", "AVX2"),
    // oneDNN's (convolutions') highest instruction set.
    ("ONEDNN_MAX_CPU_ISA", "AVX2"),
    // ATen's vectorised kernels.
    ("ATEN_CPU_CAPABILITY", "avx2"),
];

/// The variable that turns the pinning off (`native`).
pub const SWITCH: &str = "SKEL_NUMERICS";

/// Caps MKL, oneDNN and ATen at AVX2 where the CPU has AVX2 and FMA (see the
/// module doc). Call first thing in `main`, before any tensor exists and
/// before other threads start: the libraries read these variables once, on
/// first use.
pub fn pin() {
    if std::env::var(SWITCH).as_deref() == Ok("native") || !has_avx2() {
        return;
    }
    for (name, value) in PINS {
        if std::env::var_os(name).is_none() {
            std::env::set_var(name, value);
        }
    }
}

/// Whether the CPU has AVX2 and FMA (the level [`pin`] caps at).
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The highest instruction set the CPU offers, of those the libraries choose
/// between.
pub fn cpu_isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            return "avx512";
        }
        if has_avx2() {
            return "avx2";
        }
        "sse4.2 or lower"
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH
    }
}

/// What can still move a run's numbers, recorded in `run.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Numerics {
    /// CPU vendor and model (`cpuid`).
    pub cpu: String,
    /// The highest instruction set of the CPU.
    pub cpu_isa: String,
    /// The instruction-set caps in effect: the [`PINS`] variables as set (by
    /// [`pin`] or the user), or `native` where none is.
    pub isa_caps: String,
    /// libtorch's intra-op threads.
    pub threads: i64,
    /// The libtorch build (`torch/version.py` of the wheel).
    pub libtorch: String,
}

impl Numerics {
    /// The current process's numerics.
    pub fn now() -> Self {
        let caps: Vec<String> = PINS
            .iter()
            .map(|(name, _)| *name)
            .filter_map(|name| std::env::var(name).ok().map(|v| format!("{name}={v}")))
            .collect();
        Self {
            cpu: cpu_name(),
            cpu_isa: cpu_isa().into(),
            isa_caps: if caps.is_empty() {
                "native".into()
            } else {
                caps.join(" ")
            },
            threads: tch::get_num_threads().into(),
            libtorch: crate::cuda::libtorch_lib_dir()
                .and_then(|dir| crate::cuda::libtorch_version(&dir))
                .unwrap_or_else(|| "unknown".into()),
        }
    }
}

/// The CPU's vendor and brand string, from `cpuid`.
pub fn cpu_name() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::__cpuid;
        let leaf0 = __cpuid(0);
        let vendor: Vec<u8> = [leaf0.ebx, leaf0.edx, leaf0.ecx]
            .iter()
            .flat_map(|r| r.to_le_bytes())
            .collect();
        let vendor = String::from_utf8_lossy(&vendor).into_owned();
        let mut brand = Vec::new();
        if __cpuid(0x8000_0000).eax >= 0x8000_0004 {
            for leaf in 0x8000_0002..=0x8000_0004u32 {
                let r = __cpuid(leaf);
                for reg in [r.eax, r.ebx, r.ecx, r.edx] {
                    brand.extend(reg.to_le_bytes());
                }
            }
        }
        let brand = String::from_utf8_lossy(&brand)
            .trim_matches(char::from(0))
            .trim()
            .to_owned();
        format!("{vendor} {brand}").trim().to_owned()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel reads the same `cpuid` leaves: the name must match its
    /// `vendor_id` and `model name`, and the instruction set its flags.
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    #[test]
    fn the_cpu_name_and_isa_match_proc_cpuinfo() {
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap();
        let field = |key: &str| {
            info.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
                .unwrap()
        };
        assert_eq!(
            cpu_name(),
            format!("{} {}", field("vendor_id"), field("model name"))
        );
        let flags: Vec<String> = field("flags")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let has = |f: &str| flags.iter().any(|x| x == f);
        let expected = if has("avx512f") && has("avx512bw") && has("avx512vl") {
            "avx512"
        } else if has("avx2") && has("fma") {
            "avx2"
        } else {
            "sse4.2 or lower"
        };
        assert_eq!(cpu_isa(), expected);
    }
}
