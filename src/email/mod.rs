//! The morning email: the templates (`render`), the MIME message (`message`), and composing
//! one for a date from the store (`compose`: gather, build the digest, draw, render).
//!
//! Only `compose` touches the outside world (it reads the store and writes previews);
//! `render` reads override templates once, when they are loaded.

pub mod compose;
pub mod message;
pub mod render;
