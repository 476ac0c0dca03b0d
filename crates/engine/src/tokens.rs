//! [`TokenMap`]: how one site names one camera's presets, the one place the
//! number ↔ token rule lives (DESIGN.md, "Number ↔ token"). Where a site's
//! tokens are numeric the number is the token ([`PresetNumber::from_token`]
//! says what is numeric); where they are opaque, tandem keeps the map in the
//! store. A mapped pair always wins over the numeric rule.

use tandem_core::{CameraId, PresetNumber, SiteId, TokenStyle};
use tandem_store::{Store, StoreError};

/// One site's number ↔ token map for one camera, as the store holds it now.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenMap {
    style: Option<TokenStyle>,
    pairs: Vec<(PresetNumber, String)>,
}

impl TokenMap {
    /// A map from what the store holds ([`tandem_store::CameraView`]).
    pub(crate) fn new(style: Option<TokenStyle>, pairs: Vec<(PresetNumber, String)>) -> Self {
        TokenMap { style, pairs }
    }

    /// The map of `camera` on `site`.
    pub(crate) fn load(
        store: &dyn Store,
        camera: &CameraId,
        site: &SiteId,
    ) -> Result<Self, StoreError> {
        Ok(TokenMap {
            style: store.token_style(camera, site)?,
            pairs: store.site_tokens(camera, site)?,
        })
    }

    /// How the site names the camera's presets, once learned.
    pub fn style(&self) -> Option<TokenStyle> {
        self.style
    }

    /// True unless the site is known to use opaque tokens: then a number is
    /// its own token (a site not yet written is tried as numeric first).
    pub fn numeric(&self) -> bool {
        self.style != Some(TokenStyle::Opaque)
    }

    /// The token mapped to `number`, if any.
    pub fn mapped(&self, number: PresetNumber) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| *n == number)
            .map(|(_, t)| t.as_str())
    }

    /// The site's token for `number`: the mapped one, else the number itself
    /// on a numeric site; `None` when an opaque site has no token for it.
    pub fn token(&self, number: PresetNumber) -> Option<String> {
        match self.mapped(number) {
            Some(token) => Some(token.to_string()),
            None => self.numeric().then(|| number.token()),
        }
    }

    /// The number the site's `token` stands for: the mapped one, else the
    /// token read as a number on a numeric site.
    pub fn number(&self, token: &str) -> Option<PresetNumber> {
        self.pairs
            .iter()
            .find(|(_, t)| t == token)
            .map(|(n, _)| *n)
            .or_else(|| {
                self.numeric()
                    .then(|| PresetNumber::from_token(token))
                    .flatten()
            })
    }

    /// Whether `token` is mapped to some number.
    pub fn has_token(&self, token: &str) -> bool {
        self.pairs.iter().any(|(_, t)| t == token)
    }

    /// The numbers mapped to a token.
    pub fn numbers(&self) -> impl Iterator<Item = PresetNumber> + '_ {
        self.pairs.iter().map(|(n, _)| *n)
    }

    /// Every (number, token) pair, by number.
    pub fn pairs(&self) -> &[(PresetNumber, String)] {
        &self.pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: u32) -> PresetNumber {
        PresetNumber::new(v).expect("valid")
    }

    fn map(style: Option<TokenStyle>, pairs: &[(u32, &str)]) -> TokenMap {
        TokenMap {
            style,
            pairs: pairs.iter().map(|(a, t)| (n(*a), t.to_string())).collect(),
        }
    }

    #[test]
    fn a_numeric_site_names_a_preset_by_its_number_unless_mapped_otherwise() {
        let m = map(Some(TokenStyle::Numeric), &[(2, "7")]);
        assert_eq!(m.token(n(1)), Some("1".into()));
        assert_eq!(m.token(n(2)), Some("7".into()), "the map wins");
        assert_eq!(m.number("1"), Some(n(1)));
        assert_eq!(m.number("7"), Some(n(2)));
        assert_eq!(
            m.number("01"),
            None,
            "only the canonical spelling is a number"
        );
        assert_eq!(m.number("guid"), None);
    }

    #[test]
    fn an_opaque_site_knows_only_its_mapped_tokens() {
        let m = map(Some(TokenStyle::Opaque), &[(3, "abc")]);
        assert_eq!(m.token(n(3)), Some("abc".into()));
        assert_eq!(m.token(n(1)), None);
        assert_eq!(m.number("abc"), Some(n(3)));
        assert_eq!(
            m.number("1"),
            None,
            "a number-like token on an opaque site is not a number"
        );
        assert!(m.has_token("abc") && !m.has_token("1"));
    }

    #[test]
    fn a_site_not_yet_written_is_tried_as_numeric() {
        let m = map(None, &[]);
        assert!(m.numeric());
        assert_eq!(m.token(n(4)), Some("4".into()));
    }
}
