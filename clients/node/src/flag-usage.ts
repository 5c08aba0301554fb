// Evaluation insight (docs/feature-flags.md): the counts of live flags' evaluations, turned into the entries a delivery
// report of a flags namespace carries. The Node twin of FlagEvaluationCounter.cs.
import { evaluationCells } from './flags.js';
import type { FlagDefinition, FlagSet } from './flags.js';

/** One entry of a delivery report (`conclave.config.v1.FlagEvaluationCount`). */
export interface FlagEvaluationCount {
  readonly flag: string;
  readonly variant: string;
  /** Evaluations of the variant since the instance started. */
  readonly total: number;
  /** Evaluations since the instance's previous report of the namespace (0 <= recent <= total). */
  readonly recent: number;
}

/** The most entries one report carries (the member refuses more). */
export const MAX_FLAG_EVALUATION_ENTRIES = 4096;

interface Counts {
  total: number;
  recent: number;
}

/**
 * @internal The evaluation counts of one {@link ConclaveFlags}. Counting itself is in the flag definitions (a cell per
 * variant, {@link FlagSet}); this tracks the merged set's definitions, collects their cells into named totals and
 * "not yet reported" counts, and hands a namespace's share to its report:
 * - a flag belongs to the LAST namespace defining it (the one whose definition is evaluated);
 * - a definition a new release replaces has its last counts kept under its name (then it is forgotten);
 * - a flag no namespace defines any more is dropped at the next harvest;
 * - a report that failed puts its `recent` counts back ({@link restore}).
 */
export class FlagUsage {
  private definitions = new Map<string, FlagDefinition>();
  private owners: ReadonlyMap<string, string> = new Map();
  private readonly named = new Map<string, Map<string, Counts>>();

  /**
   * The sets now applied per namespace, and their merge (the set evaluated). A flag belongs to the last namespace of
   * `namespaces` defining it: its definition is the one evaluated.
   */
  update(namespaces: readonly string[], sets: ReadonlyMap<string, FlagSet>, merged: FlagSet): void {
    const owners = new Map<string, string>();
    for (const namespace of namespaces) {
      for (const name of sets.get(namespace)?.names ?? []) {
        owners.set(name, namespace);
      }
    }
    for (const [name, definition] of this.definitions) {
      if (merged.get(name) !== definition) {
        this.collect(definition);
      }
    }
    const definitions = new Map<string, FlagDefinition>();
    for (const name of merged.names) {
      definitions.set(name, merged.get(name)!);
    }
    this.definitions = definitions;
    this.owners = owners;
  }

  /** Whether the namespace owns at least one flag now. */
  owns(namespace: string): boolean {
    for (const owner of this.owners.values()) {
      if (owner === namespace) {
        return true;
      }
    }
    return false;
  }

  /** Whether any evaluation happened since the last harvest, or a failed report's counts wait to be sent. */
  hasRecent(): boolean {
    for (const definition of this.definitions.values()) {
      for (const cell of evaluationCells(definition).values()) {
        if (cell[0]! > 0) {
          return true;
        }
      }
    }
    for (const variants of this.named.values()) {
      for (const counts of variants.values()) {
        if (counts.recent > 0) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * The counts of the flags `namespace` owns, most recently used first (at most 4,096), with their `recent` part
   * reset; null when there is nothing to report for it.
   */
  harvest(namespace: string): FlagEvaluationCount[] | null {
    for (const definition of this.definitions.values()) {
      this.collect(definition);
    }
    const result: FlagEvaluationCount[] = [];
    for (const [flag, variants] of this.named) {
      const owner = this.owners.get(flag);
      if (owner === undefined) {
        this.named.delete(flag); // no namespace defines it any more
      } else if (owner === namespace) {
        for (const [variant, counts] of variants) {
          result.push({ flag, variant, total: counts.total, recent: counts.recent });
        }
      }
    }
    if (result.length === 0) {
      return null;
    }
    // Most used first, so the bound drops the least used; then reset what is reported.
    result.sort((a, b) => b.recent - a.recent || b.total - a.total);
    result.length = Math.min(result.length, MAX_FLAG_EVALUATION_ENTRIES);
    for (const e of result) {
      this.named.get(e.flag)!.get(e.variant)!.recent = 0;
    }
    return result;
  }

  /** Puts the `recent` counts of a report that failed back, so the next report carries them. */
  restore(unsent: readonly FlagEvaluationCount[]): void {
    for (const e of unsent) {
      const counts = this.named.get(e.flag)?.get(e.variant);
      if (counts !== undefined) {
        counts.recent = Math.min(counts.total, counts.recent + e.recent);
      }
    }
  }

  /** Moves a definition's cells into the named counts and resets them. */
  private collect(definition: FlagDefinition): void {
    for (const [variant, cell] of evaluationCells(definition)) {
      const n = cell[0]!;
      if (n === 0) {
        continue;
      }
      cell[0] = 0;
      let variants = this.named.get(definition.name);
      if (variants === undefined) {
        variants = new Map();
        this.named.set(definition.name, variants);
      }
      const counts = variants.get(variant);
      if (counts === undefined) {
        variants.set(variant, { total: n, recent: n });
      } else {
        counts.total += n;
        counts.recent += n;
      }
    }
  }
}
