// Words for the identity engine's codes, as a marketer says them. Shared by
// the Profiles and Identity review pages.
import { codeLabel } from '../../lib/format';
import type { Comparison, SourceRecord } from '../../lib/types';

const FIELDS: Record<string, string> = {
  name: 'Name',
  first_name: 'First name',
  last_name: 'Last name',
  email: 'Email',
  phone: 'Phone',
  birth_date: 'Birth date',
  postcode: 'Postcode',
  city: 'City',
  region: 'Region',
  country: 'Country',
  address: 'Address',
  address1: 'Address',
  address2: 'Address (line 2)',
  address_line1: 'Address',
  address_line2: 'Address (line 2)',
  company: 'Company',
  job_title: 'Job title',
  gender: 'Gender',
  customer_id: 'Customer id',
  loyalty_id: 'Loyalty id',
  device_id: 'Device id',
  consent_email: 'Email consent',
  consent_sms: 'SMS consent',
  consent_ads: 'Ads consent',
};

/** `first_name` → `First name`. */
export function fieldLabel(field: string): string {
  return FIELDS[field] ?? codeLabel(field);
}

const RECORD_KINDS: Record<string, string> = { contact: 'Contact', order: 'Order', device: 'Web visitor' };
export function recordKindLabel(kind: string): string {
  return RECORD_KINDS[kind] ?? codeLabel(kind);
}

/** What a person reads for a record: "HubSpot contacts · 1042". */
export function recordLabel(r: Pick<SourceRecord, 'source' | 'source_key'>): string {
  return `${r.source} · ${r.source_key}`;
}

const LINK_REASONS: Record<string, string> = {
  email: 'Same email',
  phone: 'Same phone',
  customer_id: 'Same customer id',
  loyalty_id: 'Same loyalty id',
  device_id: 'Same device',
  match: 'Similar details',
  accepted: 'Marked as the same person',
};
export function linkReasonLabel(reason: string): string {
  return LINK_REASONS[reason] ?? codeLabel(reason);
}

const REFUSED: Record<string, string> = {
  too_common: 'Shared by too many people',
  placeholder: 'Placeholder value',
  names_differ: 'Names do not match',
  cap: 'Too many emails or phones for one person',
  decision: 'Marked as different people',
  ambiguous_id: 'Ambiguous id',
};
export function refusedLabel(reason: string): string {
  return REFUSED[reason] ?? codeLabel(reason);
}

const ACTIONS: Record<string, string> = {
  accept: 'Same person',
  reject: 'Different people',
  split: 'Split off a record',
  unmerge: 'Unmerged a profile',
  resolve: 'Resolved identities',
  merge: 'Profiles merged',
};
export function actionLabel(action: string): string {
  return ACTIONS[action] ?? codeLabel(action);
}

const LEVELS: Record<string, string> = {
  exact: 'Exact',
  nickname: 'Nickname',
  similar: 'Similar',
  close: 'Close',
  swapped: 'Swapped',
  different: 'Different',
  missing: 'Missing',
};
export function levelLabel(level: string): string {
  return LEVELS[level] ?? codeLabel(level);
}

/**
 * The result of one comparison. The engine says `missing` also when both
 * records have a value that does not count for the pair (a city beside
 * matching postcodes): that reads "Not counted", not "Missing".
 */
export function comparisonLabel(c: Comparison): string {
  return c.level === 'missing' && c.a && c.b ? 'Not counted' : levelLabel(c.level);
}

/** A probability (0–1) as a percentage people read: 0.873 → "87%", 0.9991 → "99.9%". */
export function percent(p: number): string {
  const v = p * 100;
  if (v > 99 && v < 100) return `${Math.floor(v * 10) / 10}%`;
  if (v > 0 && v < 1) return '<1%';
  return `${Math.round(v)}%`;
}

/** Evidence in bits with its sign: "+4.2", "−1.5". */
export function evidence(w: number): string {
  const s = Math.abs(w).toFixed(1);
  return w > 0.05 ? `+${s}` : w < -0.05 ? `−${s}` : '0';
}

/** A details string the engine stores as JSON, shown as "key: value · …". */
export function detailText(detail: string): string {
  try {
    const v: unknown = JSON.parse(detail);
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.entries(v as Record<string, unknown>)
        .map(([k, x]) => `${codeLabel(k)}: ${Array.isArray(x) ? x.map((e) => (e == null ? '—' : String(e))).join(', ') : x == null ? '—' : typeof x === 'object' ? JSON.stringify(x) : String(x)}`)
        .join(' · ');
    }
  } catch {
    // Plain text.
  }
  return detail;
}
