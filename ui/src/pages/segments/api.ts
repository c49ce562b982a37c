// The segment and campaign commands, typed, and what the rule builder knows
// about the JSON rule model (src/segments/rules.rs): defaults for each kind
// of condition, the operators and the values they take.
//
// The commands go through the one client (`call`, `runJob` in lib/api).
import { app } from '../../lib/app.svelte';
import { call, runJob, saveText, transport } from '../../lib/api';
import type { Jobs } from '../../lib/types';
import type { Campaign } from '../../lib/bindings/Campaign';
import type { CampaignAudience } from '../../lib/bindings/CampaignAudience';
import type { CampaignExport } from '../../lib/bindings/CampaignExport';
import type { Condition } from '../../lib/bindings/Condition';
import type { Count } from '../../lib/bindings/Count';
import type { CountOp } from '../../lib/bindings/CountOp';
import type { Definition } from '../../lib/bindings/Definition';
import type { ExportFormat } from '../../lib/bindings/ExportFormat';
import type { FieldType } from '../../lib/bindings/FieldType';
import type { Group } from '../../lib/bindings/Group';
import type { Op } from '../../lib/bindings/Op';
import type { SegmentCatalog } from '../../lib/bindings/SegmentCatalog';
import type { SegmentDetail } from '../../lib/bindings/SegmentDetail';
import type { SegmentField } from '../../lib/bindings/SegmentField';
import type { SegmentOverlap } from '../../lib/bindings/SegmentOverlap';
import type { SegmentPreview } from '../../lib/bindings/SegmentPreview';

export type {
  Campaign,
  CampaignAudience,
  CampaignExport,
  Condition,
  Count,
  CountOp,
  Definition,
  ExportFormat,
  FieldType,
  Group,
  Op,
  SegmentCatalog,
  SegmentDetail,
  SegmentField,
  SegmentOverlap,
  SegmentPreview,
};

// ---- commands -------------------------------------------------------------------

/** `call` and `runJob` of the one client; their types live in lib/types. */
export const cmd = call;
export const job = runJob;

// ---- the app's job slot ----------------------------------------------------------

const EXPORT_JOB: keyof Jobs = 'campaign_export';

/** Takes the app's one job slot for an export; false when another job holds it. */
export function holdExportJob(): boolean {
  if (app.job !== null) return false;
  app.job = EXPORT_JOB;
  return true;
}

export function releaseExportJob(): void {
  if (app.job === EXPORT_JOB) app.job = null;
}

// ---- files ----------------------------------------------------------------------

function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Saves an exported file: a download in the browser; the desktop app asks
 * where to save it. Resolves with the file's name.
 */
export async function saveExport(exportId: number): Promise<string> {
  const file = await cmd('export_file', { id: exportId });
  const bytes = decodeBase64(file.base64);
  if (transport === 'tauri') {
    await saveText(file.file_name, new TextDecoder().decode(bytes), file.mime);
    return file.file_name;
  }
  const url = URL.createObjectURL(new Blob([bytes], { type: file.mime }));
  const a = document.createElement('a');
  a.href = url;
  a.download = file.file_name;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return file.file_name;
}

// ---- the rule model ----------------------------------------------------------------

/** The model version this UI writes (rules::VERSION). */
export const MODEL_VERSION = 1;

export type ConditionType = Condition['type'];
export type Cond<T extends ConditionType> = Extract<Condition, { type: T }>;

export function emptyDefinition(): Definition {
  return { version: MODEL_VERSION, root: { match: 'all', negate: false, conditions: [] } };
}

export const OP_LABELS: Record<Op, string> = {
  eq: 'is',
  ne: 'is not',
  lt: 'is less than',
  le: 'is at most',
  gt: 'is more than',
  ge: 'is at least',
  between: 'is between',
  in: 'is one of',
  not_in: 'is none of',
  contains: 'contains',
  starts_with: 'starts with',
  is_empty: 'is empty',
  is_set: 'is set',
  in_last_days: 'is in the last',
  more_than_days_ago: 'is more than',
};

/** Dates read better with before/after. */
export function opLabel(op: Op, kind: FieldType): string {
  if (kind === 'date') {
    if (op === 'lt') return 'is before';
    if (op === 'le') return 'is on or before';
    if (op === 'gt') return 'is after';
    if (op === 'ge') return 'is on or after';
  }
  return OP_LABELS[op];
}

export const COUNT_OPS: { id: CountOp; label: string }[] = [
  { id: 'at_least', label: 'at least' },
  { id: 'at_most', label: 'at most' },
  { id: 'exactly', label: 'exactly' },
];

/** Operators of an event property filter (PropertyFilter's doc). */
export function propertyOps(kind: FieldType): Op[] {
  if (kind === 'money' || kind === 'number') return ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];
  if (kind === 'choice') return ['eq', 'ne', 'in'];
  return ['eq', 'ne', 'in', 'contains', 'starts_with'];
}

/** Operators for an order total. */
export const TOTAL_OPS: Op[] = ['gt', 'ge', 'lt', 'le', 'eq', 'between'];

/** The shape of value an operator takes. */
export type ValueShape = 'none' | 'list' | 'pair' | 'days' | 'scalar';

export function valueShape(op: Op | null): ValueShape {
  switch (op) {
    case 'is_empty':
    case 'is_set':
    case null:
      return 'none';
    case 'in':
    case 'not_in':
      return 'list';
    case 'between':
      return 'pair';
    case 'in_last_days':
    case 'more_than_days_ago':
      return 'days';
    default:
      return 'scalar';
  }
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

function scalarDefault(kind: FieldType, choices: string[]): unknown {
  if (kind === 'number' || kind === 'money') return 0;
  if (kind === 'date') return today();
  if (kind === 'choice') return choices[0] ?? '';
  return '';
}

/** A value that fits the operator (and the field's type). */
export function defaultValue(kind: FieldType, op: Op | null, choices: string[] = []): unknown {
  switch (valueShape(op)) {
    case 'none':
      return null;
    case 'list':
      return choices.length > 0 ? [choices[0]] : [];
    case 'pair':
      if (kind === 'date') return [today(), today()];
      return [0, 100];
    case 'days':
      return 30;
    default:
      return scalarDefault(kind, choices);
  }
}

/** Keeps a value when it still fits after an operator change, else a default. */
export function fitValue(value: unknown, kind: FieldType, op: Op, choices: string[] = []): unknown {
  const shape = valueShape(op);
  const numeric = kind === 'number' || kind === 'money';
  switch (shape) {
    case 'none':
      return null;
    case 'list':
      return Array.isArray(value) ? value : typeof value === 'string' && value !== '' ? [value] : defaultValue(kind, op, choices);
    case 'pair':
      return Array.isArray(value) && value.length === 2 ? value : defaultValue(kind, op, choices);
    case 'days':
      return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : 30;
    default:
      if (numeric) return typeof value === 'number' ? value : defaultValue(kind, op, choices);
      if (kind === 'date') return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? value : today();
      return typeof value === 'string' ? value : defaultValue(kind, op, choices);
  }
}

/** What to add, in the order of the "Add" buttons. */
export const ADD_KINDS: { id: ConditionType | 'rfm'; label: string }[] = [
  { id: 'field', label: 'Profile or trait' },
  { id: 'event', label: 'Event' },
  { id: 'order', label: 'Orders' },
  { id: 'sequence', label: 'Sequence' },
  { id: 'rfm', label: 'RFM segment' },
  { id: 'segment', label: 'Segment' },
  { id: 'cluster', label: 'Cluster' },
  { id: 'consent', label: 'Consent' },
  { id: 'group', label: 'Group' },
];

export const KIND_LABELS: Record<ConditionType, string> = {
  field: 'Profile',
  event: 'Event',
  order: 'Orders',
  sequence: 'Sequence',
  segment: 'Segment',
  cluster: 'Cluster',
  consent: 'Consent',
  group: 'Group',
};

function eventNamed(catalog: SegmentCatalog, wanted: string[], fallback = 0): string {
  for (const w of wanted) if (catalog.events.some((e) => e.name === w)) return w;
  return catalog.events[fallback]?.name ?? catalog.events[0]?.name ?? '';
}

/** A new condition of a kind, filled with something sensible from the data. */
export function newCondition(kind: ConditionType | 'rfm', catalog: SegmentCatalog, selfId: number | null = null): Condition {
  switch (kind) {
    case 'field': {
      const f = catalog.fields.find((x) => x.name === 'country') ?? catalog.fields[0];
      const op: Op = f?.ops.includes('eq') ? 'eq' : (f?.ops[0] ?? 'eq');
      return { type: 'field', field: f?.name ?? '', op, value: defaultValue(f?.kind ?? 'text', op, f?.choices ?? []) };
    }
    case 'rfm': {
      const f = catalog.fields.find((x) => x.name === 'rfm_segment');
      const choices = f?.choices.length ? f.choices : catalog.rfm_segments;
      return { type: 'field', field: 'rfm_segment', op: 'in', value: choices.length ? [choices[0]] : [] };
    }
    case 'event':
      return {
        type: 'event',
        did: true,
        event: eventNamed(catalog, ['view_item', 'page_view']),
        filters: [],
        count: { op: 'at_least', value: 1 },
        within_days: 30,
      };
    case 'order':
      return {
        type: 'order',
        did: true,
        metric: 'count',
        count: { op: 'at_least', value: 1 },
        op: null,
        value: null,
        sku: null,
        category: null,
        within_days: 365,
      };
    case 'sequence':
      return {
        type: 'sequence',
        first: eventNamed(catalog, ['add_to_cart']),
        then: eventNamed(catalog, ['purchase', 'begin_checkout'], 1),
        then_did: false,
        within_hours: 24,
        in_last_days: 30,
      };
    case 'segment':
      return { type: 'segment', segment: catalog.segments.find((s) => s.id !== selfId)?.id ?? 0, negate: false };
    case 'cluster':
      return { type: 'cluster', cluster: catalog.clusters[0]?.id ?? 0, negate: false };
    case 'consent':
      return { type: 'consent', channel: catalog.channels[0] ?? 'email', status: 'granted' };
    case 'group':
      return { type: 'group', match: 'any', negate: false, conditions: [] };
  }
}

/** "1.2.1": a condition's position as people count. */
export function pathLabel(path: number[]): string {
  return path.map((i) => i + 1).join('.');
}

export function samePath(a: readonly number[] | null | undefined, b: readonly number[]): boolean {
  return !!a && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** True when `path` leads to a condition of the definition. */
export function pathExists(root: Group, path: readonly number[]): boolean {
  let g: Group = root;
  for (let i = 0; i < path.length; i++) {
    const c = g.conditions[path[i]];
    if (!c) return false;
    if (i < path.length - 1) {
      if (c.type !== 'group') return false;
      g = c;
    }
  }
  return true;
}

export function channelLabel(c: string): string {
  return c === 'sms' ? 'SMS' : c === 'ads' ? 'Ads' : c === 'email' ? 'Email' : c;
}

/** Suppression reasons as people say them. */
export function reasonLabel(r: string): string {
  const known: Record<string, string> = {
    unsubscribed: 'Unsubscribed',
    bounced: 'Bounced',
    no_consent: 'No consent for the channel',
    suppression_list: 'On a suppression list',
    missing_address: 'No address for the channel',
    invalid_address: 'Invalid address for the channel',
  };
  return known[r] ?? r.charAt(0).toUpperCase() + r.slice(1).replace(/_/g, ' ');
}
