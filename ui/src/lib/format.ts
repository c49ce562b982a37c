// Formatting for people: numbers, sizes, durations, dates, names of things.
import type { Kind } from './types';

const intFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

export function count(n: number | null | undefined): string {
  return n == null ? '—' : intFmt.format(n);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

export function bytes(n: number | null | undefined): string {
  if (n == null) return '—';
  if (n < 1024) return `${intFmt.format(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${oneDecimal.format(v)} ${units[i]}`;
}

export function seconds(s: number): string {
  if (s < 1) return `${oneDecimal.format(s * 1000)} ms`;
  if (s < 60) return `${oneDecimal.format(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

export function rate(done: number, elapsedMs: number): string {
  if (elapsedMs <= 0) return '—';
  return `${intFmt.format(Math.round((done * 1000) / elapsedMs))} rows/s`;
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

const KINDS: Record<string, string> = {
  contacts: 'Contacts',
  orders: 'Orders',
  order_lines: 'Order lines',
  events: 'Events',
  products: 'Products',
};
export function kindLabel(k: Kind): string {
  return KINDS[k] ?? k;
}

/** Table names as people say them. */
export function tableLabel(t: string): string {
  return KINDS[t] ?? t.replace(/_/g, ' ');
}

export function dateOrderLabel(order: string): string {
  switch (order) {
    case 'month_first':
      return 'Month first (US)';
    case 'day_first':
      return 'Day first';
    case 'not_needed':
      return 'Unambiguous';
    default:
      return order.replace(/_/g, ' ');
  }
}

/** A reason code as a short phrase (`missing_key` → `Missing key`). */
export function codeLabel(code: string): string {
  const s = code.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// ---- Money and shares (Insights, traits) ----------------------------------

const twoDecimals = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const moneyFormats = new Map<string, Intl.NumberFormat>();

function moneyFormat(currency: string, whole: boolean): Intl.NumberFormat {
  const key = `${currency}|${whole}`;
  let f = moneyFormats.get(key);
  if (!f) {
    try {
      f = new Intl.NumberFormat(undefined, {
        style: 'currency',
        currency,
        ...(whole ? { maximumFractionDigits: 0, minimumFractionDigits: 0 } : {}),
      });
    } catch {
      // Not an ISO code Intl knows: a plain number, the code after it.
      f = new Intl.NumberFormat(undefined, { maximumFractionDigits: whole ? 0 : 2, minimumFractionDigits: whole ? 0 : 2 });
    }
    moneyFormats.set(key, f);
  }
  return f;
}

/** Decimals of a currency's minor unit: 2 for USD and EUR, 0 for JPY, 3 for KWD. */
export function currencyDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

function withCode(text: string, currency: string, f: Intl.NumberFormat): string {
  return f.resolvedOptions().style === 'currency' ? text : `${text} ${currency}`;
}

/**
 * An amount in major units (12.5 → "$12.50"). `whole` drops the cents, for
 * large totals and averages.
 */
export function moneyMajor(major: number | null | undefined, currency: string | null | undefined, whole = false): string {
  if (major == null || !Number.isFinite(major)) return '—';
  if (!currency) return (whole ? intFmt : twoDecimals).format(major);
  const f = moneyFormat(currency, whole);
  return withCode(f.format(major), currency, f);
}

/** An amount in minor units of `currency` (1250 USD → "$12.50"; 1250 JPY → "¥1,250"). */
export function money(minor: number | null | undefined, currency: string | null | undefined, whole = false): string {
  if (minor == null || !Number.isFinite(minor)) return '—';
  const digits = currency ? currencyDigits(currency) : 2;
  return moneyMajor(minor / 10 ** digits, currency, whole);
}

/** A share 0..1 as a percentage ("42%", "<1%", "99.6%"). */
export function share(p: number | null | undefined): string {
  if (p == null || !Number.isFinite(p)) return '—';
  const v = p * 100;
  if (v > 0 && v < 1) return '<1%';
  if (v > 99 && v < 100) return `${Math.floor(v * 10) / 10}%`;
  return `${Math.round(v)}%`;
}

/** A number with up to `digits` decimals ("2.61", "0.3"). */
export function decimal(n: number | null | undefined, digits = 2): string {
  if (n == null || !Number.isFinite(n)) return '—';
  return new Intl.NumberFormat(undefined, { maximumFractionDigits: digits }).format(n);
}

/** A date without the time ("12 Mar 2025"). */
export function dateOnly(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString(undefined, { dateStyle: 'medium' });
}

/** A number of days as people say it ("today", "1 day", "3 months", "2 years"). */
export function days(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—';
  const d = Math.round(n);
  if (d === 0) return 'less than a day';
  if (d < 60) return plural(d, 'day');
  if (d < 730) return plural(Math.round(d / 30.44), 'month');
  return `${oneDecimal.format(d / 365.25)} years`;
}
