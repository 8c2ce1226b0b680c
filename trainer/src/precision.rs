//! Mixed precision for the feature extractor, as `torch.autocast` does it:
//! inside [`autocast`], libtorch runs convolutions and matrix products in
//! bf16 and keeps reductions, losses and the weights in f32.
//!
//! tch's own `autocast` turns on CUDA autocast only, in its default dtype
//! (fp16), and does nothing without a GPU. This one takes the device type
//! and the dtype, through the same libtorch functions that Python's
//! `torch.autocast` calls (`at::autocast::set_autocast_enabled` and
//! `set_autocast_dtype`, C++ symbols of libtorch_cpu).

use serde::{Deserialize, Serialize};
use tch::Device;

/// The arithmetic of the extractor's forward passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32.
    #[default]
    Fp32,
    /// Autocast to bf16 (convolutions and matrix products), f32 weights,
    /// losses and optimiser.
    Bf16,
}

impl Precision {
    pub fn is_default(&self) -> bool {
        *self == Self::Fp32
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Bf16 => "bf16",
        }
    }
}

// c10::DeviceType and c10::ScalarType are `enum class : int8_t`; these free
// functions take and return them in registers as C does.
extern "C" {
    #[link_name = "_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE"]
    fn is_autocast_enabled(device_type: i8) -> bool;
    #[link_name = "_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb"]
    fn set_autocast_enabled(device_type: i8, enabled: bool);
    #[link_name = "_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE"]
    fn get_autocast_dtype(device_type: i8) -> i8;
    #[link_name = "_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE"]
    fn set_autocast_dtype(device_type: i8, dtype: i8);
    #[link_name = "_ZN2at8autocast17increment_nestingEv"]
    fn increment_nesting() -> i32;
    #[link_name = "_ZN2at8autocast17decrement_nestingEv"]
    fn decrement_nesting() -> i32;
    #[link_name = "_ZN2at8autocast11clear_cacheEv"]
    fn clear_cache();
}

/// c10::DeviceType::CPU and CUDA.
const CPU: i8 = 0;
const CUDA: i8 = 1;
/// c10::ScalarType::BFloat16.
const BFLOAT16: i8 = 15;

/// Runs `f` under autocast on `device`'s type in `precision` (fp32: plainly).
/// Autocast is thread-local; the state before is restored afterwards.
pub fn autocast<T>(precision: Precision, device: Device, f: impl FnOnce() -> T) -> T {
    if precision == Precision::Fp32 {
        return f();
    }
    let device_type = match device {
        Device::Cuda(_) => CUDA,
        _ => CPU,
    };
    // SAFETY: libtorch's autocast state functions, called as torch.autocast's
    // __enter__ and __exit__ call them, on this thread.
    let (enabled, dtype) = unsafe {
        let before = (
            is_autocast_enabled(device_type),
            get_autocast_dtype(device_type),
        );
        set_autocast_enabled(device_type, true);
        set_autocast_dtype(device_type, BFLOAT16);
        increment_nesting();
        before
    };
    struct Restore(i8, bool, i8);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: as above.
            unsafe {
                if decrement_nesting() == 0 {
                    clear_cache();
                }
                set_autocast_enabled(self.0, self.1);
                set_autocast_dtype(self.0, self.2);
            }
        }
    }
    let _restore = Restore(device_type, enabled, dtype);
    f()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    #[test]
    fn bf16_autocast_runs_matrix_products_in_bf16_and_restores() {
        let a = Tensor::ones([4, 8], (Kind::Float, Device::Cpu));
        let b = Tensor::ones([8, 2], (Kind::Float, Device::Cpu));
        let inside = autocast(Precision::Bf16, Device::Cpu, || a.matmul(&b));
        assert_eq!(inside.kind(), Kind::BFloat16);
        assert_eq!(
            Vec::<f32>::try_from(inside.to_kind(Kind::Float).flatten(0, -1)).unwrap(),
            vec![8.0; 8]
        );
        // Reductions stay f32 (autocast's fp32 list), and the state is restored.
        let sum = autocast(Precision::Bf16, Device::Cpu, || a.sum(Kind::Float));
        assert_eq!(sum.kind(), Kind::Float);
        assert_eq!(a.matmul(&b).kind(), Kind::Float);
        assert_eq!(
            autocast(Precision::Fp32, Device::Cpu, || a.matmul(&b)).kind(),
            Kind::Float
        );
    }
}
