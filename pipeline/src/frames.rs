//! Frame-major storage of bodies: every frame holds zero or more bodies.

use skel_schemas::{COORDS, JOINTS};

/// The x, y, z of the 25 joints of one body in one frame.
pub type Pose = [[f32; COORDS]; JOINTS];

/// Bodies grouped by frame, stored flat: frame `t` holds
/// `items[ends[t - 1]..ends[t]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Frames<B> {
    items: Vec<B>,
    ends: Vec<u32>,
}

impl<B> Default for Frames<B> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            ends: Vec::new(),
        }
    }
}

impl<B> Frames<B> {
    pub fn with_capacity(frames: usize, items: usize) -> Self {
        Self {
            items: Vec::with_capacity(items),
            ends: Vec::with_capacity(frames),
        }
    }

    /// Adds a body to the frame under construction.
    pub fn push(&mut self, body: B) {
        self.items.push(body);
    }

    /// Closes the frame under construction.
    pub fn end_frame(&mut self) {
        self.ends.push(self.items.len() as u32);
    }

    pub fn num_frames(&self) -> usize {
        self.ends.len()
    }

    /// Bodies of frame `t`.
    pub fn frame(&self, t: usize) -> &[B] {
        let start = if t == 0 { 0 } else { self.ends[t - 1] as usize };
        &self.items[start..self.ends[t] as usize]
    }

    /// Every frame in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[B]> + '_ {
        (0..self.num_frames()).map(|t| self.frame(t))
    }

    /// Every body of every frame, in file order.
    pub fn bodies(&self) -> &[B] {
        &self.items
    }

    /// Maps every body, keeping the frame structure.
    pub fn map<C>(&self, f: impl FnMut(&B) -> C) -> Frames<C> {
        Frames {
            items: self.items.iter().map(f).collect(),
            ends: self.ends.clone(),
        }
    }
}

/// One body in one frame as the cleaning presets see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    /// The tracker's body ID (the NTU bodyID, or the PKU-MMD slot).
    pub id: u64,
    pub pose: Pose,
}

/// A raw sequence as the presets see it.
pub type Sequence = Frames<Body>;
