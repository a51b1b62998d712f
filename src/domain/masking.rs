//! Masking of payment card numbers, mainland China resident ID numbers and phone numbers in customer messages, keeping only enough of each to recognise it.

/// What kinds of sensitive data a message contained (for warning the customer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MaskedKinds {
    pub card: bool,
    pub national_id: bool,
    pub phone: bool,
}

impl MaskedKinds {
    #[must_use]
    pub const fn any(self) -> bool {
        self.card || self.national_id || self.phone
    }
}

/// A message with its sensitive numbers masked; everything else is byte-identical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masked {
    pub text: String,
    pub kinds: MaskedKinds,
}

/// Masks resident IDs, payment card numbers and phone numbers in a customer's message.
///
/// Kept: an ID's first 3 and last 4 characters, a Luhn-valid card's first 6 and last 4 digits,
/// a phone's `+86`/`86`/`0086` or `+` prefix as written and its first 3 and last 2 digits.
/// Separators inside a masked number are dropped.
#[must_use]
pub fn mask_sensitive(text: &str) -> Masked {
    let mut masked = String::with_capacity(text.len());
    let mut kinds = MaskedKinds::default();
    let mut copied = 0;
    for found in find_all(text) {
        masked.push_str(&text[copied..found.keep_until]);
        masked.push_str(&found.masked);
        copied = found.end;
        match found.kind {
            Kind::NationalId => kinds.national_id = true,
            Kind::Card => kinds.card = true,
            Kind::Phone => kinds.phone = true,
        }
    }
    masked.push_str(&text[copied..]);
    Masked {
        text: masked,
        kinds,
    }
}

/// The most digits any rule matches (a 19-digit card); it bounds the work on long runs of groups.
const MAX_DIGITS: usize = 19;

const ID_WEIGHTS: [usize; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK_CHARS: &[u8; 11] = b"10X98765432";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    NationalId,
    Card,
    Phone,
}

/// One masked number: the text before `keep_until` (including a phone prefix) is copied as
/// written, `masked` replaces the rest up to `end`.
struct Found {
    kind: Kind,
    keep_until: usize,
    end: usize,
    masked: String,
}

/// One run of ASCII digits in a span.
struct Group {
    /// Index of the group's first digit in `Span::digits`.
    first: usize,
    len: usize,
    /// The separator written before this group; `None` for the span's first group.
    separator: Option<u8>,
}

/// Groups of ASCII digits joined by single spaces or hyphens: the text a number may be written
/// in. Numbers are looked for on group boundaries only, so a match is always bounded by
/// non-digits and never cuts into a longer run.
struct Span<'t> {
    text: &'t str,
    /// Byte offset of a `+` written right before the first digit.
    plus: Option<usize>,
    digits: Vec<u8>,
    offsets: Vec<usize>,
    groups: Vec<Group>,
    /// Byte offset of an `X`/`x` right after the last digit: a resident ID's check character.
    check_x: Option<usize>,
    end: usize,
}

/// A rule tried on groups `first..=last` of a span.
type Rule<'t> = fn(&Span<'t>, usize, usize) -> Option<Found>;

/// Scans bytes: every byte the rules look at is ASCII, which never occurs inside a multi-byte
/// UTF-8 character, so every offset found is a character boundary.
fn find_all(text: &str) -> Vec<Found> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at].is_ascii_digit() {
            let span = Span::parse(text, at);
            at = span.end;
            if !span.touches_other_numerals() {
                span.find_all(&mut found);
            }
        } else {
            at += 1;
        }
    }
    found
}

impl<'t> Span<'t> {
    fn parse(text: &'t str, start: usize) -> Self {
        let bytes = text.as_bytes();
        let mut digits = Vec::new();
        let mut offsets = Vec::new();
        let mut groups = Vec::new();
        let mut at = start;
        let mut separator = None;
        loop {
            let first = digits.len();
            while let Some(&digit) = bytes.get(at).filter(|b| b.is_ascii_digit()) {
                digits.push(digit);
                offsets.push(at);
                at += 1;
            }
            groups.push(Group {
                first,
                len: digits.len() - first,
                separator,
            });
            match (bytes.get(at), bytes.get(at + 1)) {
                (Some(&next @ (b' ' | b'-')), Some(after)) if after.is_ascii_digit() => {
                    separator = Some(next);
                    at += 1;
                }
                _ => break,
            }
        }
        let plus = start.checked_sub(1).filter(|&before| bytes[before] == b'+');
        let check_x = (matches!(bytes.get(at), Some(b'X' | b'x'))
            && !bytes.get(at + 1).is_some_and(u8::is_ascii_digit))
        .then_some(at);
        Self {
            text,
            plus,
            digits,
            offsets,
            groups,
            check_x,
            end: at,
        }
    }

    /// Full-width and other non-ASCII digits are not read as digits, but a run touching them is
    /// part of a longer number, so it is left alone rather than masked in part.
    fn touches_other_numerals(&self) -> bool {
        let start = self.offsets[0];
        self.text[..start]
            .chars()
            .next_back()
            .is_some_and(char::is_numeric)
            || self.text[self.end..]
                .chars()
                .next()
                .is_some_and(char::is_numeric)
    }

    fn find_all(&self, found: &mut Vec<Found>) {
        let mut first = 0;
        while first < self.groups.len() {
            match self.find_from(first) {
                Some((one, last)) => {
                    found.push(one);
                    first = last + 1;
                }
                None => first += 1,
            }
        }
    }

    /// The highest-priority rule matching groups `first..=last`, trying the longest `last` first;
    /// returns the match and its last group.
    fn find_from(&self, first: usize) -> Option<(Found, usize)> {
        let mut lasts = Vec::new();
        let mut count = 0;
        for (last, group) in self.groups.iter().enumerate().skip(first) {
            count += group.len;
            if count > MAX_DIGITS {
                break;
            }
            lasts.push(last);
        }
        // Priority order: at one starting group, an ID wins over a card, a card over a phone.
        let rules: [Rule<'t>; 4] = [
            Self::national_id,
            Self::card,
            Self::mainland_mobile,
            Self::international_phone,
        ];
        rules.iter().find_map(|rule| {
            lasts
                .iter()
                .rev()
                .find_map(|&last| rule(self, first, last).map(|one| (one, last)))
        })
    }

    fn digits(&self, first: usize, last: usize) -> &[u8] {
        let end = self.groups[last].first + self.groups[last].len;
        &self.digits[self.groups[first].first..end]
    }

    fn start_of(&self, group: usize) -> usize {
        self.offsets[self.groups[group].first]
    }

    fn end_of(&self, group: usize) -> usize {
        self.offsets[self.groups[group].first + self.groups[group].len - 1] + 1
    }

    /// Grouped numbers are written with one kind of separator ("4111 1111 …", not "4111-1111 …"),
    /// which keeps dates and ranges ("2024-01-15 …") from joining a number.
    fn one_separator(&self, first: usize, last: usize) -> bool {
        self.groups[first + 1..=last]
            .windows(2)
            .all(|pair| pair[0].separator == pair[1].separator)
    }

    /// Each group holds `min..=max` digits, unless the number is written as one group.
    fn group_sizes(&self, first: usize, last: usize, min: usize, max: usize) -> bool {
        first == last
            || self.groups[first..=last]
                .iter()
                .all(|group| (min..=max).contains(&group.len))
    }

    /// A `+` before digits says "phone number", so cards and IDs are not read after one.
    fn after_plus(&self, first: usize) -> bool {
        first == 0 && self.plus.is_some()
    }

    fn national_id(&self, first: usize, last: usize) -> Option<Found> {
        if self.after_plus(first) || !self.one_separator(first, last) {
            return None;
        }
        if !self.group_sizes(first, last, 3, 8) {
            return None;
        }
        let digits = self.digits(first, last);
        let (chars, end) = match digits.len() {
            18 => (digits.to_vec(), self.end_of(last)),
            17 if last == self.groups.len() - 1 => {
                let x = self.check_x?;
                let mut chars = digits.to_vec();
                chars.push(self.text.as_bytes()[x]);
                (chars, x + 1)
            }
            _ => return None,
        };
        let (body, check) = chars.split_at(17);
        is_resident_id(body, check[0]).then(|| Found {
            kind: Kind::NationalId,
            keep_until: self.start_of(first),
            end,
            masked: mask(&chars, 3, 4),
        })
    }

    fn card(&self, first: usize, last: usize) -> Option<Found> {
        let digits = self.digits(first, last);
        let valid = !self.after_plus(first)
            && (13..=19).contains(&digits.len())
            && self.one_separator(first, last)
            && self.group_sizes(first, last, 3, 6)
            && luhn_valid(digits);
        valid.then(|| Found {
            kind: Kind::Card,
            keep_until: self.start_of(first),
            end: self.end_of(last),
            masked: mask(digits, 6, 4),
        })
    }

    /// 11 digits `1[3-9]…`, optionally after `+86`, `86` or `0086`, which stays as written (its
    /// own group or joined to the number).
    fn mainland_mobile(&self, first: usize, last: usize) -> Option<Found> {
        let digits = self.digits(first, last);
        let prefix_len = if self.after_plus(first) {
            if !digits.starts_with(b"86") {
                return None;
            }
            2
        } else {
            match digits.len() {
                11 => 0,
                13 if digits.starts_with(b"86") => 2,
                15 if digits.starts_with(b"0086") => 4,
                _ => return None,
            }
        };
        let national = &digits[prefix_len..];
        let mobile =
            national.len() == 11 && national[0] == b'1' && (b'3'..=b'9').contains(&national[1]);
        if !mobile {
            return None;
        }
        let first_len = self.groups[first].len;
        let (national_first, national_first_len) = if prefix_len == 0 {
            (first, first_len)
        } else if first_len == prefix_len {
            (first + 1, self.groups[first + 1].len)
        } else if first_len > prefix_len {
            (first, first_len - prefix_len)
        } else {
            return None;
        };
        let grouped_well = national_first == last
            || (national_first_len >= 3
                && self.one_separator(national_first, last)
                && self.groups[national_first + 1..=last]
                    .iter()
                    .all(|group| group.len >= 3));
        grouped_well.then(|| Found {
            kind: Kind::Phone,
            keep_until: self.offsets[self.groups[first].first + prefix_len],
            end: self.end_of(last),
            masked: mask(national, 3, 2),
        })
    }

    /// `+` and 8–15 digits; the country code may be a short group, the rest are 2+ digits.
    fn international_phone(&self, first: usize, last: usize) -> Option<Found> {
        let digits = self.digits(first, last);
        let valid = self.after_plus(first)
            && (8..=15).contains(&digits.len())
            && self.groups[first + 1..=last]
                .iter()
                .all(|group| group.len >= 2);
        valid.then(|| Found {
            kind: Kind::Phone,
            keep_until: self.start_of(first),
            end: self.end_of(last),
            masked: mask(digits, 3, 2),
        })
    }
}

/// Keeps `keep_first` and `keep_last` characters; every rule matches more than both together.
fn mask(chars: &[u8], keep_first: usize, keep_last: usize) -> String {
    let (head, rest) = chars.split_at(keep_first);
    let (hidden, tail) = rest.split_at(rest.len() - keep_last);
    head.iter()
        .map(|&c| char::from(c))
        .chain(hidden.iter().map(|_| '*'))
        .chain(tail.iter().map(|&c| char::from(c)))
        .collect()
}

fn digit_value(digit: u8) -> usize {
    usize::from(digit - b'0')
}

fn luhn_valid(digits: &[u8]) -> bool {
    let sum: usize = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(position, &digit)| {
            let value = digit_value(digit);
            if position.is_multiple_of(2) {
                value
            } else if value * 2 > 9 {
                value * 2 - 9
            } else {
                value * 2
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// GB 11643: the ISO 7064 MOD 11-2 check character, plus a region code starting 1–8 and a
/// plausible birth date, because 18-digit order numbers are common and the checksum alone
/// would take one in eleven of them for an ID.
fn is_resident_id(body: &[u8], check: u8) -> bool {
    let sum: usize = body
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(&digit, weight)| digit_value(digit) * weight)
        .sum();
    let expected = ID_CHECK_CHARS[sum % 11];
    let number = |digits: &[u8]| digits.iter().fold(0, |n, &d| n * 10 + digit_value(d));
    check.eq_ignore_ascii_case(&expected)
        && (b'1'..=b'8').contains(&body[0])
        && (1900..=2099).contains(&number(&body[6..10]))
        && (1..=12).contains(&number(&body[10..12]))
        && (1..=31).contains(&number(&body[12..14]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &str) -> String {
        mask_sensitive(text).text
    }

    #[test]
    fn card_numbers_keep_first_six_and_last_four_without_separators() {
        for card in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
        ] {
            let result = mask_sensitive(card);
            assert_eq!(result.text, "411111******1111", "{card}");
            assert_eq!(
                result.kinds,
                MaskedKinds {
                    card: true,
                    ..MaskedKinds::default()
                }
            );
        }
        assert_eq!(masked("5500005555555559"), "550000******5559");
        assert_eq!(masked("Amex 3782 822463 10005."), "Amex 378282*****0005.");
    }

    #[test]
    fn card_inside_chinese_text_keeps_the_text_byte_identical() {
        assert_eq!(
            masked("我的卡号是4111111111111111谢谢"),
            "我的卡号是411111******1111谢谢"
        );
        assert_eq!(masked("card:4111111111111111!"), "card:411111******1111!");
    }

    #[test]
    fn luhn_failing_order_numbers_are_left_alone() {
        let text = "订单号 4111111111111112 还没发货";
        let result = mask_sensitive(text);
        assert_eq!(result.text, text);
        assert!(!result.kinds.any());
    }

    #[test]
    fn resident_ids_keep_first_three_and_last_four() {
        let result = mask_sensitive("身份证11010519491231002X，请核实");
        assert_eq!(result.text, "身份证110***********002X，请核实");
        assert!(result.kinds.national_id);
        assert!(!result.kinds.card && !result.kinds.phone);
        assert_eq!(masked("id 11010519491231002x"), "id 110***********002x");
        assert_eq!(masked("110105199001010002"), "110***********0002");
        assert_eq!(
            masked("110105 19491231 002X"),
            "110***********002X",
            "grouped as on the card"
        );
    }

    #[test]
    fn a_wrong_check_character_is_not_an_id() {
        for text in ["110105194912310020", "11010519491231003X"] {
            assert_eq!(masked(text), text);
        }
    }

    #[test]
    fn an_id_wins_over_a_card() {
        let both = "110105199001010256";
        assert!(luhn_valid(both.as_bytes()));
        let result = mask_sensitive(both);
        assert_eq!(result.text, "110***********0256");
        assert!(result.kinds.national_id && !result.kinds.card);
    }

    #[test]
    fn mainland_mobiles_keep_the_prefix_first_three_and_last_two() {
        for (text, expected) in [
            ("13812345678", "138******78"),
            ("138 1234 5678", "138******78"),
            ("138-1234-5678", "138******78"),
            ("+86 138 1234 5678", "+86 138******78"),
            ("+86-138-1234-5678", "+86-138******78"),
            ("+8613812345678", "+86138******78"),
            ("8613912345678", "86139******78"),
            ("0086 13812345678", "0086 138******78"),
            ("电话：+86 13812345678。", "电话：+86 138******78。"),
        ] {
            let result = mask_sensitive(text);
            assert_eq!(result.text, expected, "{text}");
            assert!(result.kinds.phone, "{text}");
        }
        assert_eq!(masked("12812345678"), "12812345678", "1[3-9] only");
        let luhn_valid_too = mask_sensitive("8613812345678");
        assert_eq!(
            luhn_valid_too.text, "861381***5678",
            "a card wins over a phone"
        );
        assert!(luhn_valid_too.kinds.card && !luhn_valid_too.kinds.phone);
    }

    #[test]
    fn international_numbers_need_a_plus() {
        assert_eq!(masked("call +1 415 555 2671"), "call +141******71");
        assert_eq!(masked("+44 20 7946 0958"), "+442*******58");
        assert_eq!(masked("call 1 415 555 2671"), "call 1 415 555 2671");
    }

    #[test]
    fn numbers_are_found_next_to_dates_and_counts() {
        assert_eq!(masked("2024-01-15 13812345678"), "2024-01-15 138******78");
        assert_eq!(masked("x2 4111 1111 1111 1111"), "x2 411111******1111");
        assert_eq!(
            masked("卡 4111111111111111 和 13812345678"),
            "卡 411111******1111 和 138******78"
        );
    }

    #[test]
    fn digits_inside_a_longer_run_are_left_alone() {
        let twenty = "41111111111111110000";
        assert!(luhn_valid(twenty.as_bytes()));
        assert_eq!(masked(twenty), twenty);
        assert_eq!(masked("913812345678"), "913812345678");
        assert_eq!(masked("４111111111111111"), "４111111111111111");
    }

    #[test]
    fn text_without_sensitive_numbers_is_unchanged() {
        let text = "你好，我的订单 12345 还没到，order #98765 was placed 2024-05-01. 价格 ¥199.00";
        let result = mask_sensitive(text);
        assert_eq!(result.text, text);
        assert!(!result.kinds.any());
        assert_eq!(mask_sensitive("").text, "");
    }
}
