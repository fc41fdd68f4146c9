// The Ink view of `netlab up` / `netlab check`: finished steps printed once (<Static>), live
// steps with a spinner, then the checks as a table and reachability matrices, then a summary.
import { useSyncExternalStore, type ReactNode } from 'react';
import { Box, Static, Text } from 'ink';
import { expectationText, type CheckResult } from '../verify/checks.js';
import { SYM, checkTable, matrices, matrixLines, tableLines, whyText } from './format.js';
import type { Row, Store, UiState } from './store.js';
import { Spinner, col } from './spinner.js';

function RowLine({ row }: { row: Row }) {
  const mark =
    row.state === 'done' ? (
      <Text color={col('green')}>{SYM.met}</Text>
    ) : row.state === 'failed' ? (
      <Text color={col('red')}>{SYM.unmet}</Text>
    ) : row.state === 'running' ? (
      <Spinner />
    ) : (
      <Text dimColor>·</Text>
    );
  const line = (
    <Text>
      {mark} {row.title.padEnd(11)}
      {row.detail ? <Text dimColor> {row.detail}</Text> : null}
      {row.ms !== undefined ? <Text dimColor> {row.ms} ms</Text> : null}
    </Text>
  );
  if (!row.lines?.length) return line;
  return (
    <Box flexDirection="column">
      {line}
      {row.lines.map((l, i) => (
        <Text key={i}>{l}</Text>
      ))}
    </Box>
  );
}

export function CheckTable({ results, width = 80 }: { results: CheckResult[]; width?: number }) {
  const t = checkTable(results);
  if (t.rows.length === 0) return null;
  const lines = tableLines(t, width);
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text bold>{lines[0]!.text}</Text>
      {lines.slice(1).map((l, i) =>
        l.why ? (
          <Text key={i} dimColor>
            {l.text}
          </Text>
        ) : (
          <Text key={i} color={col(l.row!.met ? 'green' : 'red')}>
            {l.text}
          </Text>
        ),
      )}
    </Box>
  );
}

export function ReachMatrix({ results, width = 80 }: { results: CheckResult[]; width?: number }) {
  const ms = matrices(results);
  return (
    <>
      {ms.map((m) => {
        const { lines, legend } = matrixLines(m, width);
        return (
          <Box key={m.id} flexDirection="column" marginTop={1}>
            {lines.map((l, i) =>
              l.head ? (
                <Text key={i} bold>
                  {l.text}
                </Text>
              ) : (
                <Text key={i} color={col(l.cells.some((c) => c && !c.met) ? 'red' : 'green')}>
                  {l.text}
                </Text>
              ),
            )}
            <Text dimColor>{legend}</Text>
            {m.why ? <Text dimColor>{whyText(m.why)}</Text> : null}
          </Box>
        );
      })}
    </>
  );
}

export function Failures({ results }: { results: CheckResult[] }) {
  const bad = results.filter((r) => !r.met);
  if (!bad.length) return null;
  return (
    <Box flexDirection="column" marginTop={1}>
      {bad.map((r, i) => (
        <Box key={i} flexDirection="column">
          <Text color={col('red')}>
            {SYM.unmet} {r.check.label}: {expectationText(r)}
          </Text>
          {r.check.why ? <Text dimColor> why: {r.check.why}</Text> : null}
          <Text dimColor> ran: {r.command.split('\n')[0]}</Text>
          {r.output
            .split('\n')
            .filter(Boolean)
            .slice(-6)
            .map((l, k) => (
              <Text key={k} dimColor>
                {'  | '}
                {l}
              </Text>
            ))}
        </Box>
      ))}
    </Box>
  );
}

function Summary({ summary }: { summary: NonNullable<UiState['summary']> }) {
  return (
    <Box marginTop={1}>
      <Text bold color={col(summary.ok ? 'green' : 'red')}>
        {summary.ok ? SYM.met : SYM.unmet} {summary.text}
      </Text>
    </Box>
  );
}

type Item = { key: string; draw: () => ReactNode };

/**
 * Everything finished goes into <Static>: Ink prints it once, above the live part, and it stays in
 * the terminal's scrollback. Only the running steps are redrawn, so the live part stays a few
 * lines high: Ink clears the whole screen, scrollback included, when it is taller than the window.
 * The results, the error and the summary are printed once the run has ended.
 */
export function UpView({ state, width = 80 }: { state: UiState; width?: number }) {
  const finished = state.rows.filter((r) => r.state === 'done' || r.state === 'failed' || r.state === 'skipped');
  const live = state.rows.filter((r) => r.state === 'running');
  const { total, results } = state.checks;
  const checking = total > 0 && results.length < total;
  const ended = state.summary !== undefined || state.error !== undefined;
  const items: Item[] = [{ key: 'title', draw: () => <Text bold>{state.title}</Text> }, ...finished.map((r) => ({ key: r.id, draw: () => <RowLine row={r} /> }))];
  if (ended && results.length > 0) {
    items.push({
      key: 'results',
      draw: () => (
        <Box flexDirection="column">
          <ReachMatrix results={results} width={width} />
          <CheckTable results={results} width={width} />
          <Failures results={results} />
        </Box>
      ),
    });
  }
  if (state.error) items.push({ key: 'error', draw: () => <Text color={col('red')}>{state.error}</Text> });
  if (state.summary) {
    const summary = state.summary;
    items.push({ key: 'summary', draw: () => <Summary summary={summary} /> });
  }
  return (
    <>
      <Static items={items}>{(item) => <Box key={item.key}>{item.draw()}</Box>}</Static>
      {ended ? null : live.map((r) => <RowLine key={r.id} row={r} />)}
      {!ended && checking ? (
        <Text>
          <Spinner /> checks{' '}
          <Text dimColor>
            {results.length}/{total}
          </Text>
        </Text>
      ) : null}
    </>
  );
}

/** Connects a store to the view. */
export function LiveUpView({ store }: { store: Store }) {
  const state = useSyncExternalStore(store.subscribe, store.get);
  return <UpView state={state} width={Math.min(process.stdout.columns || 80, 100)} />;
}
