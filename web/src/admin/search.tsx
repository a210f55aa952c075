// What the dashboard's finders share: a search answered a page at a time (a first page, then "more"
// appended below it), its results as a table with an Open button per row, and a form that opens one
// item by its id.
import { useState, type InputHTMLAttributes, type ReactNode } from 'react';
import { Busy, ProblemNotice, useAction } from '../shared/ui';

export interface Page<T> {
  items: T[];
  cursor: string | null;
}

/** `search()` loads the first page; `more()` appends the next one (the API's cursor). */
export function usePagedSearch<T>(load: (cursor: string | undefined) => Promise<Page<T>>) {
  const [page, setPage] = useState<Page<T>>();
  const action = useAction(async (cursor?: string) => {
    const next = await load(cursor);
    setPage((previous) => (cursor && previous ? { items: [...previous.items, ...next.items], cursor: next.cursor } : next));
  });
  return {
    page,
    busy: action.busy,
    problem: action.problem,
    search: () => void action.run(),
    more: () => void (page?.cursor && action.run(page.cursor)),
  };
}

export type PagedSearch<T> = ReturnType<typeof usePagedSearch<T>>;

/** The results of a paged search: what failed, "no match", the table, and the button for more. */
export function SearchResults<T>({
  results,
  what,
  testId,
  columns,
  row,
}: {
  results: PagedSearch<T>;
  /** The plural noun: "users", "generations". */
  what: string;
  testId: string;
  /** The header cells, before the Open column. */
  columns: ReactNode;
  /** One row's cells, its key and the Open button's label. */
  row: (item: T) => { key: string; cells: ReactNode; open: { label: string; onClick: () => void } };
}) {
  const { page, busy, problem, more } = results;
  return (
    <>
      <ProblemNotice problem={problem} what={`Searching ${what}`} />
      {page && page.items.length === 0 && <p className="empty">Nothing matches.</p>}
      {page && page.items.length > 0 && (
        <table data-testid={testId}>
          <thead>
            <tr>
              {columns}
              <th scope="col">
                <span className="sr-only">Open</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((item) => {
              const { key, cells, open } = row(item);
              return (
                <tr key={key}>
                  {cells}
                  <td>
                    <button className="secondary" aria-label={open.label} onClick={open.onClick}>
                      Open
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {page?.cursor && (
        <div>
          <Busy busy={busy} className="secondary" onClick={more}>
            More {what}
          </Busy>
        </div>
      )}
    </>
  );
}

/** A form that opens one item by the id typed into it (an empty id closes it). */
export function OpenById({
  id,
  label,
  button,
  onOpen,
  ...input
}: { id: string; label: string; button: string; onOpen: (value: string | undefined) => void } & InputHTMLAttributes<HTMLInputElement>) {
  const [value, setValue] = useState('');
  return (
    <form
      className="row"
      style={{ alignItems: 'flex-end', marginTop: '1rem' }}
      onSubmit={(e) => {
        e.preventDefault();
        onOpen(value.trim() || undefined);
      }}
    >
      <div className="field" style={{ flex: '1 1 16rem', marginBottom: 0 }}>
        <label htmlFor={id}>{label}</label>
        <input {...input} id={id} type="text" value={value} onChange={(e) => setValue(e.target.value)} required />
      </div>
      <button type="submit">{button}</button>
    </form>
  );
}
