// Small pieces both pages share: loading data that refreshes without flicker, problem notices, and a
// button that shows it is working.
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { ApiProblem } from '../api/client';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiProblem | undefined;
  /** True only before the first answer: later refreshes keep showing the previous data. */
  loading: boolean;
  refresh: () => Promise<void>;
  updatedAt: Date | undefined;
}

/**
 * Loads `load()` at once and every `everyMs` (when given). A refresh replaces the data only when it
 * succeeds, so the page never blanks out between answers; a failed refresh keeps the data and reports
 * the error beside it.
 */
export function useLoaded<T>(load: () => Promise<T>, deps: unknown[], everyMs?: number): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiProblem>();
  const [loading, setLoading] = useState(true);
  const [updatedAt, setUpdatedAt] = useState<Date>();
  const current = useRef(load);
  current.current = load;
  const generation = useRef(0);

  const refresh = useCallback(async () => {
    const mine = ++generation.current;
    try {
      const next = await current.current();
      if (mine !== generation.current) return;
      setData(next);
      setError(undefined);
      setUpdatedAt(new Date());
    } catch (problem) {
      if (mine !== generation.current) return;
      setError(asProblem(problem));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    setLoading(true);
    void refresh();
    if (!everyMs) return undefined;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void refresh();
    }, everyMs);
    return () => clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  return { data, error, loading, refresh, updatedAt };
}

export function asProblem(error: unknown): ApiProblem {
  if (error instanceof ApiProblem) return error;
  return new ApiProblem(0, 'client', error instanceof Error ? error.message : String(error));
}

export function Notice({ kind, title, children }: { kind: 'ok' | 'info' | 'warn' | 'bad'; title?: string; children?: ReactNode }) {
  return (
    <div className={`notice ${kind}`} role={kind === 'bad' ? 'alert' : 'status'}>
      {title && <strong>{title} </strong>}
      {children}
    </div>
  );
}

/** A problem as a user can act on it: the server's own words, and the fields it names. */
export function ProblemNotice({ problem, what }: { problem: ApiProblem | undefined; what?: string }) {
  if (!problem) return null;
  if (problem.routeMissing) return <Notice kind="info">{what ?? 'This'} is not available on this server yet.</Notice>;
  return (
    <Notice kind="bad" title={what ? `${what} failed:` : undefined}>
      {problem.detail}
      {problem.errors.length > 0 && (
        <ul>
          {problem.errors.map((e) => (
            <li key={e.path}>
              {e.path}: {e.message}
            </li>
          ))}
        </ul>
      )}
    </Notice>
  );
}

export function Loading({ label }: { label: string }) {
  return (
    <p className="muted" role="status">
      <span className="spinner" aria-hidden="true" /> {label}…
    </p>
  );
}

/** Runs an action once at a time, with its problem kept for display. */
export function useAction<A extends unknown[], R>(action: (...args: A) => Promise<R>) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem>();
  const run = useCallback(
    async (...args: A): Promise<R | undefined> => {
      setBusy(true);
      setProblem(undefined);
      try {
        return await action(...args);
      } catch (error) {
        setProblem(asProblem(error));
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [action],
  );
  return { run, busy, problem, setProblem };
}

export function Busy({ busy, children, ...props }: { busy: boolean; children: ReactNode } & React.ButtonHTMLAttributes<HTMLButtonElement>) {
  return (
    <button {...props} disabled={busy || props.disabled} aria-busy={busy}>
      {busy && <span className="spinner" aria-hidden="true" />} {children}
    </button>
  );
}

/** A random key so a retried click buys or grants once (Idempotency-Key). */
export function newKey(): string {
  return crypto.randomUUID();
}
