// What the Recommendations page and its panels share: the models as people
// name them, how metrics are written, and the settings form's conversions
// (comma lists, boost lines) to and from the engine's `RecommendSettings`.
import type { Boost, ModelKind, RecommendSettings, RunSummary } from '../../lib/types';

/** The models in the engine's order, with the labels it gives them. */
export const MODELS: { id: ModelKind; label: string; hint: string }[] = [
  {
    id: 'popularity',
    label: 'Most popular',
    hint: 'The best sellers for everyone. The baseline every other model has to beat.',
  },
  {
    id: 'item_knn',
    label: 'Bought together (item-item)',
    hint: 'Products often bought or viewed by the same people as what each person bought or viewed.',
  },
  {
    id: 'als',
    label: 'Similar taste (ALS)',
    hint: 'Learns tastes from everyone’s history and recommends what people with a similar taste liked.',
  },
  {
    id: 'content',
    label: 'Similar products (content)',
    hint: 'Products of the same category, brand and price range as what each person liked.',
  },
  {
    id: 'hybrid',
    label: 'Hybrid blend',
    hint: 'A blend of the four: item-item, similar taste, similar products and popularity.',
  },
];

export function modelLabel(id: ModelKind | null | undefined): string {
  if (!id) return 'Automatic';
  return MODELS.find((m) => m.id === id)?.label ?? id;
}

const fixed3 = new Intl.NumberFormat(undefined, { minimumFractionDigits: 3, maximumFractionDigits: 3 });
const fixed2 = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** A ranking metric (0..1) with three decimals: "0.154". */
export function metric(x: number | null | undefined): string {
  return x == null || !Number.isFinite(x) ? '—' : fixed3.format(x);
}

/** A ratio to the baseline: "1.14×". */
export function ratio(x: number | null | undefined): string {
  return x == null || !Number.isFinite(x) ? '—' : `${fixed2.format(x)}×`;
}

/** A calendar date the engine sends as `YYYY-MM-DD`, in the person's calendar ("1 Oct 2026"). */
export function calendarDay(iso: string): string {
  const d = /^\d{4}-\d{2}-\d{2}$/.test(iso) ? new Date(`${iso}T00:00:00`) : new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleDateString(undefined, { dateStyle: 'medium' });
}

/** Rounds the f32 values the engine sends (0.009999999776…) to what was meant (0.01). */
export function tidy(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(6)) : x;
}

/** "Nutrition, Socks" → ["Nutrition", "Socks"] (blanks and repeats dropped). */
export function parseList(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const part of text.split(/[,\n]/)) {
    const t = part.trim();
    if (t && !seen.has(t.toLowerCase())) {
      seen.add(t.toLowerCase());
      out.push(t);
    }
  }
  return out;
}

export function formatList(list: string[]): string {
  return list.join(', ');
}

/** Boost lines (`Nutrition=1.5`, `SKU-1=0.5`) → boosts, or the first problem in words. */
export function parseBoosts(text: string): { boosts: Boost[]; error: string | null } {
  const boosts: Boost[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const at = line.lastIndexOf('=');
    const target = at > 0 ? line.slice(0, at).trim() : '';
    const factorText = at > 0 ? line.slice(at + 1).trim().replace(',', '.') : '';
    const factor = Number(factorText);
    if (!target || !factorText || !Number.isFinite(factor)) {
      return { boosts, error: `Boost line ${i + 1} (“${line}”) is not TARGET=FACTOR, for example Nutrition=1.5.` };
    }
    if (factor < 0) return { boosts, error: `Boost line ${i + 1}: the factor must be 0 or more (below 1 buries, above 1 boosts).` };
    boosts.push({ target, factor });
  }
  return { boosts, error: null };
}

export function formatBoosts(boosts: Boost[]): string {
  return boosts.map((b) => `${b.target}=${tidy(b.factor)}`).join('\n');
}

/** A deep copy with the f32 noise rounded away, for the form. */
export function cleanSettings(s: RecommendSettings): RecommendSettings {
  return {
    ...s,
    weights: {
      view: tidy(s.weights.view),
      add_to_cart: tidy(s.weights.add_to_cart),
      purchase: tidy(s.weights.purchase),
      half_life_days: tidy(s.weights.half_life_days),
    },
    knn: { ...s.knn, shrink: tidy(s.knn.shrink) },
    als: { ...s.als, regularization: tidy(s.als.regularization), alpha: tidy(s.als.alpha) },
    rules: {
      ...s.rules,
      replenishable_categories: [...s.rules.replenishable_categories],
      excluded_categories: [...s.rules.excluded_categories],
      boosts: s.rules.boosts.map((b) => ({ target: b.target, factor: tidy(b.factor) })),
    },
    hybrid: s.hybrid.map(tidy) as [number, number, number, number],
  };
}

/**
 * What a new run starts from: the latest run's choices (model, rules,
 * weights, list length), with the default model parameters when that run
 * tuned them by grid search (its stored values are the grid's winners).
 */
export function startingSettings(defaults: RecommendSettings, run: RunSummary | null): RecommendSettings {
  if (!run) return cleanSettings(defaults);
  const s = run.settings;
  return cleanSettings({
    ...s,
    knn: s.grid_search ? defaults.knn : s.knn,
    als: s.grid_search ? defaults.als : s.als,
  });
}

/** The rules of a run in a few words, for the run card. */
export function rulesSummary(s: RecommendSettings): string[] {
  const r = s.rules;
  const out: string[] = [];
  if (r.exclude_purchased) {
    out.push(
      r.replenishable_categories.length > 0
        ? `Leaves out what each person bought, except ${formatList(r.replenishable_categories)}`
        : 'Leaves out what each person bought',
    );
  }
  if (r.exclude_out_of_stock) out.push('Leaves out products out of stock');
  if (r.excluded_categories.length > 0) out.push(`Never recommends ${formatList(r.excluded_categories)}`);
  if (r.max_per_category > 0) out.push(`At most ${r.max_per_category} per category`);
  if (r.boosts.length > 0) out.push(`Boosts: ${r.boosts.map((b) => `${b.target} ×${tidy(b.factor)}`).join(', ')}`);
  return out;
}
