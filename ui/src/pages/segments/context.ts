// What every part of the rule builder needs: the catalogue behind the
// pickers and where the engine found a problem. Set once by RuleBuilder.
import { getContext, setContext } from 'svelte';
import type { SegmentCatalog } from './api';

export interface BuilderContext {
  readonly catalog: SegmentCatalog;
  /** Where the live count found the definition wrong (indexes from the root). */
  readonly problemPath: number[] | null;
  readonly problem: string | null;
  /** The segment being edited, which cannot refer to itself. */
  readonly selfId: number | null;
}

const KEY = Symbol('segment-builder');

export function setBuilder(ctx: BuilderContext): void {
  setContext(KEY, ctx);
}

export function builder(): BuilderContext {
  return getContext<BuilderContext>(KEY);
}
