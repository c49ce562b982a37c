// Masking personal data on screen (for screenshots, screen sharing, demos).
// One switch for the whole app, kept in localStorage, off by default; pure
// functions that mask an email, a phone number, a name, an address part or
// free text that may hold emails and phone numbers.
//
// The switch lives in `mask.svelte.ts` (rune state); this module is plain
// TypeScript so the functions can be used and tested anywhere.

/** The dot masked characters become. */
export const DOT = '•';

/** `jane.doe@example.com` → `j•••@example.com` (the domain stays: it says which provider, not who). */
export function maskEmail(email: string | null | undefined): string {
  if (!email) return email ?? '';
  const s = email.trim();
  const at = s.lastIndexOf('@');
  if (at <= 0) return maskText(s);
  return `${s[0]}${DOT.repeat(3)}${s.slice(at)}`;
}

/** Calling codes, longest first within their first digit (enough to keep a code whole). */
const CALLING_CODES = new Set([
  '1', '7', '20', '27', '30', '31', '32', '33', '34', '36', '39', '40', '41', '43', '44', '45', '46', '47', '48', '49',
  '51', '52', '53', '54', '55', '56', '57', '58', '60', '61', '62', '63', '64', '65', '66', '81', '82', '84', '86',
  '90', '91', '92', '93', '94', '95', '98', '212', '213', '216', '218', '234', '254', '255', '256', '351', '352', '353',
  '354', '356', '357', '358', '359', '370', '371', '372', '380', '381', '385', '386', '420', '421', '852', '886', '961',
  '962', '965', '966', '971', '972', '974',
]);

/**
 * `+447700901234` → `+44 •••• ••1234`: the country code and the last four
 * digits stay. Any other format keeps its last four digits only
 * (`07700 901234` → `•••••••1234`).
 */
export function maskPhone(phone: string | null | undefined): string {
  if (!phone) return phone ?? '';
  const s = phone.trim();
  const digits = s.replace(/\D/g, '');
  if (digits.length < 5) return DOT.repeat(Math.max(digits.length, 1));
  const last = digits.slice(-4);
  if (s.startsWith('+')) {
    let cc = '';
    for (const len of [3, 2, 1]) {
      if (CALLING_CODES.has(digits.slice(0, len))) {
        cc = digits.slice(0, len);
        break;
      }
    }
    if (!cc) cc = digits.slice(0, Math.min(2, digits.length - 4));
    const hidden = digits.length - cc.length - 4;
    if (hidden > 0) {
      // `+44 •••• ••1234`: hidden digits in groups of four from the left, the tail joined to the last four.
      const head = Math.max(0, hidden - 2);
      const groups: string[] = [];
      for (let i = 0; i < head; i += 4) groups.push(DOT.repeat(Math.min(4, head - i)));
      const tail = DOT.repeat(hidden - head) + last;
      return `+${cc} ${[...groups, tail].join(' ')}`;
    }
    return `+${cc} ${last}`;
  }
  return DOT.repeat(digits.length - 4) + last;
}

/** `Jane Doe` → `J. D.`; `jane` → `J.`. */
export function maskName(name: string | null | undefined): string {
  if (!name) return name ?? '';
  const parts = name
    .trim()
    .split(/[\s]+/)
    .filter((p) => p.length > 0);
  return parts.map((p) => `${Array.from(p)[0].toUpperCase()}.`).join(' ');
}

/** A street, postcode or other address part: the first character, then dots. `SW1A 1AA` → `S•••`. */
export function maskAddress(value: string | null | undefined): string {
  if (!value) return value ?? '';
  const s = value.trim();
  return s ? `${Array.from(s)[0]}${DOT.repeat(3)}` : s;
}

/** A value that identifies a person without being a name, email or phone (an id, a birth date): all dots. */
export function maskOpaque(value: string | null | undefined): string {
  if (!value) return value ?? '';
  return DOT.repeat(Math.min(Math.max(Array.from(value).length, 3), 8));
}

const EMAIL_IN_TEXT = /[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
// A phone in text: an optional +, then at least 7 digits with spaces, dots, dashes or brackets between them.
const PHONE_IN_TEXT = /\+?\(?\d[\d\s().-]{5,}\d/g;

/** Free text (an event property, a record's raw line, a search query) with every email and phone in it masked. */
export function maskText(text: string | null | undefined): string {
  if (!text) return text ?? '';
  return text
    .replace(EMAIL_IN_TEXT, (m) => maskEmail(m))
    .replace(PHONE_IN_TEXT, (m) => {
      const digits = m.replace(/\D/g, '');
      // Dates, amounts and ids are not phones: only 7 to 15 digits, and not an ISO date.
      if (digits.length < 7 || digits.length > 15 || /^\d{4}-\d{2}-\d{2}/.test(m)) return m;
      return maskPhone(m);
    });
}

/** Fields that hold a person's name (`first_name`, `billing_name`, …; not `product_name`). */
const NAME_FIELD = /^(first_name|last_name|name|full_name|display_name|customer_name|contact_name|billing_name|shipping_name|given_name|family_name|surname|forename)$/;
/** Fields that hold part of a street address. */
const ADDRESS_FIELD = /(^|_)(address\d?|address_line_?\d|address_\d|street|postcode|zip|postal_code)$/;
/** Fields that identify a person on their own. */
const OPAQUE_FIELD = /^(birth_date|date_of_birth|dob|birthday)$/;

/**
 * A field's value masked by what the field is (`email`, `phone`,
 * `first_name`, `postcode`, …); anything else has emails and phones in it
 * masked. Consent fields (`consent_email`) are not personal data.
 */
export function maskField(field: string, value: string | null | undefined): string {
  if (value === null || value === undefined || value === '') return value ?? '';
  const f = field.toLowerCase().replace(/[\s-]+/g, '_');
  if (f.startsWith('consent')) return value;
  if (/(^|_)email(_address)?$/.test(f)) return maskEmail(value);
  if (/(^|_)(phone|mobile|telephone)(_number)?$/.test(f)) return maskPhone(value);
  if (NAME_FIELD.test(f)) return maskName(value);
  if (ADDRESS_FIELD.test(f)) return maskAddress(value);
  if (OPAQUE_FIELD.test(f)) return maskOpaque(value);
  return maskText(value);
}

/**
 * Text built from known values (a record's one-line summary, a link's
 * reason): every one of `fields`' personal values in it replaced by its
 * masked form, then any other email or phone masked.
 */
export function maskWithFields(text: string | null | undefined, fields: Iterable<[string, string]>): string {
  if (!text) return text ?? '';
  const pairs: [string, string][] = [];
  for (const [field, value] of fields) {
    if (!value || value.length < 2) continue;
    const masked = maskField(field, value);
    if (masked !== value) pairs.push([value, masked]);
    // Names inside a full name ("Ada Lovelace" from first and last name).
    if (NAME_FIELD.test(field.toLowerCase())) for (const part of value.split(/\s+/)) if (part.length > 1) pairs.push([part, maskName(part)]);
  }
  pairs.sort((a, b) => b[0].length - a[0].length);
  let out = text;
  for (const [value, masked] of pairs) out = out.split(value).join(masked);
  return maskText(out);
}

/** An identity (`email:jane@example.com`, kind + value): the value masked by its kind. */
export function maskIdentity(kind: string, value: string): string {
  const k = kind.toLowerCase();
  if (k.includes('email')) return maskEmail(value);
  if (k.includes('phone')) return maskPhone(value);
  if (k.includes('name')) return maskName(value);
  return maskText(value);
}
