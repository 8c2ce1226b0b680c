//! Raw access to the data of CPU tensors, for the fused loops that replace
//! chains of small libtorch calls (the single-pass Adam, the fused SA-DVAE
//! step). Every caller checks device, kind and contiguity first.

use tch::{Device, Kind, Tensor};

/// Whether `t` is a contiguous f32 tensor on the CPU.
pub fn is_plain_f32(t: &Tensor) -> bool {
    t.device() == Device::Cpu && t.kind() == Kind::Float && t.is_contiguous()
}

/// The elements of a contiguous f32 CPU tensor.
///
/// # Safety
/// `t` is a contiguous f32 CPU tensor ([`is_plain_f32`]) and no mutable view
/// of its data lives at the same time.
pub unsafe fn f32s(t: &Tensor) -> &[f32] {
    debug_assert!(is_plain_f32(t));
    let n = t.numel();
    if n == 0 {
        return &[];
    }
    std::slice::from_raw_parts(t.data_ptr() as *const f32, n)
}

/// The elements of a contiguous f32 CPU tensor, writable.
///
/// # Safety
/// `t` is a contiguous f32 CPU tensor ([`is_plain_f32`]) and no other view of
/// its data lives at the same time.
#[allow(clippy::mut_from_ref)]
pub unsafe fn f32s_mut(t: &Tensor) -> &mut [f32] {
    debug_assert!(is_plain_f32(t));
    let n = t.numel();
    if n == 0 {
        return &mut [];
    }
    std::slice::from_raw_parts_mut(t.data_ptr() as *mut f32, n)
}

/// An uninitialised rows x cols f32 CPU tensor, for a loop to fill.
pub fn empty(rows: i64, cols: i64) -> Tensor {
    Tensor::empty([rows, cols], (Kind::Float, Device::Cpu))
}
