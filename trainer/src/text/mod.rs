//! Class text features: the texts of each class (label, descriptions) and
//! the encoders that embed them, Sentence-BERT and a CLIP text encoder.

pub mod bert;
pub mod clip;
pub mod clip_bpe;
pub mod texts;
pub mod weights;
