//! What the channels' payload readers share.

/// Declares wire structs in which every field may be absent: providers add
/// and omit fields between API versions, and a missing one must not cost a
/// message.
macro_rules! wire {
    ($($name:ident { $($field:ident: $ty:ty),* $(,)? })*) => {$(
        #[derive(Default, serde::Deserialize)]
        #[serde(default)]
        struct $name { $($field: $ty),* }
    )*};
}

/// A field's text when it has some, trimmed.
pub(crate) fn given(field: &Option<String>) -> Option<&str> {
    field.as_deref().map(str::trim).filter(|s| !s.is_empty())
}
