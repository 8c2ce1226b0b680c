//! The CLIP tokenizer (OpenAI `clip/simple_tokenizer.py`): text clean-up,
//! CLIP's word regex, byte-level BPE with the 48,894 merges of
//! `data/reference/clip_bpe_simple_vocab_16e6.txt.gz` (embedded), and
//! `<|startoftext|>` / `<|endoftext|>` around at most 77 tokens.
//!
//! Clean-up: OpenAI's tokenizer runs `ftfy.fix_text`, which, among repairs
//! that leave well-formed English text alone, turns curly quotes into
//! straight ones (`person’s` -> `person's`) and applies NFC; those are the
//! ftfy steps done here, before whitespace runs become one space and the text
//! is lowercased. (Hugging Face's CLIPTokenizer skips the uncurling.)

use std::collections::HashMap;
use std::io::Read;

use flate2::read::GzDecoder;
use regex::Regex;
use unicode_normalization::UnicodeNormalization;

const MERGES_GZ: &[u8] =
    include_bytes!("../../../data/reference/clip_bpe_simple_vocab_16e6.txt.gz");
/// Merges used by CLIP: the file's lines 1..=48894 (line 0 is a header).
const MERGES: usize = 49152 - 256 - 2;
/// The id of `<|startoftext|>`.
pub const START_OF_TEXT: u32 = 49406;
/// The id of `<|endoftext|>`, the highest id.
pub const END_OF_TEXT: u32 = 49407;
/// Tokens in the vocabulary: 256 bytes, 256 word-final bytes, the merges, two specials.
pub const VOCAB_SIZE: usize = 49408;
/// CLIP's context: token sequences are cut to this length.
pub const CONTEXT: usize = 77;
/// CLIP's word pattern (Python `regex` with IGNORECASE).
const PATTERN: &str = r"(?i)<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

/// The CLIP BPE tokenizer.
#[derive(Debug)]
pub struct ClipBpe {
    /// Byte -> the printable character standing for it.
    byte_chars: [char; 256],
    /// Token string -> id.
    encoder: HashMap<String, u32>,
    /// (left, right) -> merge priority (lower first).
    ranks: HashMap<(String, String), u32>,
    pattern: Regex,
}

impl Default for ClipBpe {
    fn default() -> Self {
        Self::new()
    }
}

impl ClipBpe {
    /// Builds the tokenizer from the embedded merges file.
    pub fn new() -> Self {
        let mut text = String::new();
        GzDecoder::new(MERGES_GZ)
            .read_to_string(&mut text)
            .expect("embedded CLIP merges are gzip text");
        let merges: Vec<(String, String)> = text
            .lines()
            .skip(1)
            .take(MERGES)
            .map(|l| {
                let (a, b) = l.split_once(' ').expect("a merge is two symbols");
                (a.to_owned(), b.to_owned())
            })
            .collect();
        assert_eq!(merges.len(), MERGES, "embedded CLIP merges file is short");

        let pairs = bytes_to_unicode();
        let mut byte_chars = ['\0'; 256];
        for &(b, c) in &pairs {
            byte_chars[usize::from(b)] = c;
        }
        let mut vocab: Vec<String> = pairs.iter().map(|(_, c)| c.to_string()).collect();
        vocab.extend(pairs.iter().map(|(_, c)| format!("{c}</w>")));
        vocab.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
        vocab.push("<|startoftext|>".into());
        vocab.push("<|endoftext|>".into());
        assert_eq!(vocab.len(), VOCAB_SIZE);
        let encoder = vocab.into_iter().zip(0u32..).collect();
        let ranks = merges.into_iter().zip(0u32..).collect();
        Self {
            byte_chars,
            encoder,
            ranks,
            pattern: Regex::new(PATTERN).expect("CLIP pattern is a valid regex"),
        }
    }

    /// The BPE token ids of `text`, without start and end tokens.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let text = clean(text);
        let mut ids = Vec::new();
        for word in self.pattern.find_iter(&text) {
            match word.as_str() {
                "<|startoftext|>" => ids.push(START_OF_TEXT),
                "<|endoftext|>" => ids.push(END_OF_TEXT),
                word => {
                    let symbols: String = word
                        .bytes()
                        .map(|b| self.byte_chars[usize::from(b)])
                        .collect();
                    ids.extend(self.bpe(&symbols).iter().map(|s| self.encoder[s]));
                }
            }
        }
        ids
    }

    /// `<|startoftext|>`, the ids of `text`, `<|endoftext|>`; cut to `context`
    /// tokens with `<|endoftext|>` kept last (OpenAI's `truncate=True`).
    pub fn tokenize(&self, text: &str, context: usize) -> Vec<u32> {
        let mut ids = vec![START_OF_TEXT];
        ids.extend(self.encode(text));
        ids.truncate(context - 1);
        ids.push(END_OF_TEXT);
        ids
    }

    /// Merges the characters of one word (the last one marked `</w>`) by rank
    /// until no ranked pair is left.
    fn bpe(&self, word: &str) -> Vec<String> {
        let mut symbols: Vec<String> = word.chars().map(String::from).collect();
        if let Some(last) = symbols.last_mut() {
            last.push_str("</w>");
        }
        loop {
            let best = symbols
                .windows(2)
                .filter_map(|w| self.ranks.get(&(w[0].clone(), w[1].clone())))
                .min();
            let Some(&rank) = best else { break };
            let mut merged = Vec::with_capacity(symbols.len());
            let mut i = 0;
            while i < symbols.len() {
                if i + 1 < symbols.len()
                    && self
                        .ranks
                        .get(&(symbols[i].clone(), symbols[i + 1].clone()))
                        == Some(&rank)
                {
                    merged.push(format!("{}{}", symbols[i], symbols[i + 1]));
                    i += 2;
                } else {
                    merged.push(symbols[i].clone());
                    i += 1;
                }
            }
            symbols = merged;
        }
        symbols
    }
}

/// NFC, ftfy's quote uncurling, whitespace runs to one space, trim, lowercase.
fn clean(text: &str) -> String {
    let uncurled: String = text
        .nfc()
        .map(|c| match c {
            '\u{02bc}' | '\u{2018}'..='\u{201b}' => '\'',
            '\u{201c}'..='\u{201f}' => '"',
            c => c,
        })
        .collect();
    uncurled
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// GPT-2/CLIP's reversible `bytes_to_unicode` map as (byte, character)
/// pairs in its order: printable Latin-1 bytes stand for themselves, the
/// other bytes, in turn, for U+0100 onwards.
fn bytes_to_unicode() -> Vec<(u8, char)> {
    let printable = |b: &u8| matches!(b, b'!'..=b'~' | 0xa1..=0xac | 0xae..=0xff);
    let mut pairs: Vec<(u8, char)> = (0..=255u8)
        .filter(printable)
        .map(|b| (b, char::from(b)))
        .collect();
    let others = (0..=255u8).filter(|b| !printable(b));
    pairs.extend(
        others
            .zip(0x100u32..)
            .map(|(b, c)| (b, char::from_u32(c).expect("U+0100.. are chars"))),
    );
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_map_is_reversible_and_printable() {
        let pairs = bytes_to_unicode();
        let mut bytes: Vec<u8> = pairs.iter().map(|p| p.0).collect();
        let mut chars: Vec<char> = pairs.iter().map(|p| p.1).collect();
        bytes.sort_unstable();
        bytes.dedup();
        chars.sort_unstable();
        chars.dedup();
        assert_eq!((bytes.len(), chars.len()), (256, 256));
        assert!(chars.iter().all(|c| !c.is_whitespace() && !c.is_control()));
        assert_eq!(pairs[0], (b'!', '!'));
        assert!(pairs.contains(&(b' ', '\u{120}'))); // GPT-2's 'Ġ'
    }

    #[test]
    fn known_words_and_specials() {
        let bpe = ClipBpe::new();
        // OpenAI: _tokenizer.encode("a photo of a cat") == [320, 1125, 539, 320, 2368]
        assert_eq!(
            bpe.encode("A  photo of a CAT "),
            [320, 1125, 539, 320, 2368]
        );
        assert_eq!(bpe.tokenize("", CONTEXT), [START_OF_TEXT, END_OF_TEXT]);
        assert_eq!(bpe.encode("<|endoftext|>"), [END_OF_TEXT]);
        // Curly and straight apostrophes tokenise alike.
        assert_eq!(bpe.encode("person’s"), bpe.encode("person's"));
    }

    #[test]
    fn long_texts_are_cut_to_the_context_with_the_end_token_last() {
        let bpe = ClipBpe::new();
        let ids = bpe.tokenize(&"walk ".repeat(200), CONTEXT);
        assert_eq!(ids.len(), CONTEXT);
        assert_eq!(ids[0], START_OF_TEXT);
        assert_eq!(ids[CONTEXT - 1], END_OF_TEXT);
        assert!(ids[1..CONTEXT - 1].iter().all(|&i| i == ids[1]));
    }
}
