//! glibc malloc settings for training.
//!
//! libtorch allocates and frees many large activation and gradient buffers
//! every step. With glibc's defaults, buffers above the (dynamic) mmap
//! threshold go back to the kernel when freed and come back as fresh zeroed
//! pages, so a CPU training step spends a good part of its time in page
//! faults and page clearing. Keeping buffers up to 32 MiB in the heap and
//! trimming only above 1 GiB of free heap made the standard ST-GCN's CPU
//! training step about 1.4x faster here (`bench/README.md`).

/// Applies the settings; call before the first tensor is made.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called at start-up.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
