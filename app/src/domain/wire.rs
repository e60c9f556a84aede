//! The encoding of server function responses and errors: the same JSON as
//! `server_fn::codec::Json`, but decoded from text with `serde_json::from_str`, which is how Leptos
//! decodes the resource values serialised into the server-rendered page. One JSON reader means one
//! deserialiser per type in the WASM bundle instead of two (`from_slice` and `from_str` each
//! monomorphise the whole `Deserialize` impl of every response type).

use serde::{de::DeserializeOwned, Serialize};
use server_fn::codec::Post;
use server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};

/// JSON (`application/json`), decoded as UTF-8 text.
pub struct JsonTextEncoding;

impl ContentType for JsonTextEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonTextEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde::de::Error::custom)?;
        serde_json::from_str(text)
    }
}

/// Server function output: JSON in the body of the response (as `server_fn::codec::Json`).
pub type JsonText = Post<JsonTextEncoding>;
