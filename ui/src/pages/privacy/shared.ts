// Small helpers shared by the Privacy panels.
import type { EraseRequest, PersonExportRequest } from '../../lib/types';

/** How a person is named in an erasure or export request. */
export type PersonKind = 'email' | 'phone' | 'profile_id';

export interface PersonInput {
  kind: PersonKind;
  value: string;
}

export const PERSON_KINDS: { id: PersonKind; label: string; placeholder: string }[] = [
  { id: 'email', label: 'Email address', placeholder: 'jane@example.com' },
  { id: 'phone', label: 'Phone number', placeholder: '+44 7700 900123' },
  { id: 'profile_id', label: 'Profile id', placeholder: '1234' },
];

/** The request fields for a person, or null while the input is not usable yet. */
export function personFields(p: PersonInput): Pick<EraseRequest, 'email' | 'phone' | 'profile_id'> | null {
  const v = p.value.trim();
  if (!v) return null;
  if (p.kind === 'profile_id') {
    const id = Number(v.replace(/^#/, ''));
    return Number.isInteger(id) && id > 0 ? { email: null, phone: null, profile_id: id } : null;
  }
  return p.kind === 'email' ? { email: v, phone: null, profile_id: null } : { email: null, phone: v, profile_id: null };
}

export function exportRequest(p: PersonInput): PersonExportRequest | null {
  const f = personFields(p);
  return f ? { ...f, out_dir: null } : null;
}

/** Channel names as people say them. */
export const CHANNEL_LABELS: Record<string, string> = { email: 'Email', sms: 'SMS', ads: 'Ads' };

export function channelLabel(c: string): string {
  return CHANNEL_LABELS[c] ?? c;
}

/** An audit entry's detail (JSON) as one line: `counts: contacts 2, orders 5 · target email`. */
export function detailSummary(detail: unknown): string {
  if (detail == null) return '';
  if (typeof detail !== 'object') return String(detail);
  if (Array.isArray(detail)) return detail.map((d) => detailSummary(d)).join(', ');
  const parts: string[] = [];
  for (const [k, v] of Object.entries(detail as Record<string, unknown>)) {
    const key = k.replace(/_/g, ' ');
    if (v == null) continue;
    if (typeof v === 'object' && !Array.isArray(v)) {
      const inner = Object.entries(v as Record<string, unknown>)
        .map(([ik, iv]) => `${ik.replace(/_/g, ' ')} ${typeof iv === 'object' ? JSON.stringify(iv) : String(iv)}`)
        .join(', ');
      parts.push(inner ? `${key}: ${inner}` : `${key}: none`);
    } else if (Array.isArray(v)) {
      parts.push(`${key}: ${v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ')}`);
    } else parts.push(`${key} ${String(v)}`);
  }
  return parts.join(' · ');
}
