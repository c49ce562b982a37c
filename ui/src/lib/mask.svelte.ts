// The app-wide "Mask personal data" switch: rune state, kept in
// localStorage, off by default. Pages show personal values through `pii`,
// whose methods return the value as is, or masked while the switch is on
// (reading `masking.on`, so whatever shows them updates when it flips).
import { maskAddress, maskEmail, maskField, maskIdentity, maskName, maskOpaque, maskPhone, maskText, maskWithFields } from './mask';

const STORAGE_KEY = 'cohort.maskPersonalData';

function stored(): boolean {
  try {
    return globalThis.localStorage?.getItem(STORAGE_KEY) === '1';
  } catch {
    return false;
  }
}

class Masking {
  #on = $state(stored());

  get on(): boolean {
    return this.#on;
  }

  set on(value: boolean) {
    this.#on = value;
    try {
      globalThis.localStorage?.setItem(STORAGE_KEY, value ? '1' : '0');
    } catch {
      // storage refused (private window): the switch still works for this session
    }
  }

  toggle(): void {
    this.on = !this.on;
  }
}

export const masking = new Masking();

type V = string | null | undefined;

/** Personal values for display: masked while the switch is on. */
export const pii = {
  email: (v: V): string => (masking.on ? maskEmail(v) : (v ?? '')),
  phone: (v: V): string => (masking.on ? maskPhone(v) : (v ?? '')),
  name: (v: V): string => (masking.on ? maskName(v) : (v ?? '')),
  address: (v: V): string => (masking.on ? maskAddress(v) : (v ?? '')),
  opaque: (v: V): string => (masking.on ? maskOpaque(v) : (v ?? '')),
  text: (v: V): string => (masking.on ? maskText(v) : (v ?? '')),
  field: (field: string, v: V): string => (masking.on ? maskField(field, v) : (v ?? '')),
  identity: (kind: string, v: string): string => (masking.on ? maskIdentity(kind, v) : v),
  /** Text built from known values: each of `fields`' personal values in it masked (a record's summary). */
  withFields: (v: V, fields: Iterable<[string, string]>): string => (masking.on ? maskWithFields(v, fields) : (v ?? '')),
};
