import { useCallback, useEffect, useRef, useState } from "react";
import * as api from "../api.js";

const PAGE = 1000;

/** The runs loaded so far, and where the next page starts. */
export interface Pages {
  runs: api.Run[];
  token?: string;
  loading: boolean;
  error?: string;
  done: boolean;
}

/** Pages of runs/search, fetched as the table scrolls towards the end of what is loaded. */
export function useRunPages(req: { experimentId: string; filter: string; orderBy: string[]; viewType: string }, version: number) {
  const [state, setState] = useState<Pages>({ runs: [], loading: true, done: false });
  const inflight = useRef<AbortController | undefined>(undefined);
  const key = JSON.stringify(req) + version;
  const keyRef = useRef(key);

  const fetchPage = useCallback(
    async (token: string | undefined, k: string) => {
      inflight.current?.abort();
      const ctl = new AbortController();
      inflight.current = ctl;
      setState((s) => ({ ...s, loading: true }));
      try {
        const res = await api.searchRuns(
          { experimentIds: [req.experimentId], filter: req.filter, orderBy: req.orderBy, viewType: req.viewType, maxResults: PAGE, pageToken: token },
          ctl.signal,
        );
        if (keyRef.current !== k) return;
        setState((s) => ({
          runs: token ? s.runs.concat(res.runs ?? []) : res.runs ?? [],
          token: res.next_page_token,
          loading: false,
          done: !res.next_page_token,
        }));
      } catch (err) {
        if (ctl.signal.aborted || keyRef.current !== k) return;
        setState((s) => ({ ...s, loading: false, error: api.errorMessage(err), done: true }));
      }
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [key],
  );

  useEffect(() => {
    keyRef.current = key;
    setState({ runs: [], loading: true, done: false });
    void fetchPage(undefined, key);
    return () => inflight.current?.abort();
  }, [key, fetchPage]);

  const stateRef = useRef(state);
  stateRef.current = state;
  const loadMore = useCallback(() => {
    const s = stateRef.current;
    if (!s.loading && s.token && !s.error) void fetchPage(s.token, keyRef.current);
  }, [fetchPage]);

  return { ...state, loadMore };
}

/** What {@link useRunPages} returns: the pages and a way to ask for the next one. */
export type PageState = Pages & { loadMore: () => void };
