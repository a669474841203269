/**
 * Reading data for pages, on TanStack Query: one cache for the whole portal, live refresh by polling
 * while the tab is visible, and lists that page with the API's continuation tokens (a page at a time,
 * when the person asks for more; nothing loads all rows).
 *
 * Safe reads are already retried by the API client (api/client.ts), so the query layer does not retry
 * again; changes (`useChange`) refresh the lists they affect when they succeed.
 */
import {
  QueryClient,
  useInfiniteQuery,
  useMutation,
  useQueryClient,
  type QueryKey,
} from '@tanstack/react-query';
import type { Page } from '../api/types';

/**
 * Who the person is and what they may do (`GET /api/me`): the navigation follows it, so a change
 * to groups, policies or the PAM settings refreshes it too.
 */
export const ME_KEY = ['me'] as const;
/** The requester's catalog lists (`[...CATALOG_KEY, kind]`), refreshed when an admin changes it. */
export const CATALOG_KEY = ['catalog'] as const;
/** The policy shown before a request (`[...POLICY_PREVIEW_KEY, kind, name]`), refreshed on policy changes. */
export const POLICY_PREVIEW_KEY = ['policy-preview'] as const;

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: false, refetchOnWindowFocus: true, staleTime: 2_000 },
      mutations: { retry: false },
    },
  });
}

/** The items of a paged list so far, and how to get more. */
export interface Paged<T> {
  readonly items: readonly T[];
  readonly error: unknown;
  readonly loading: boolean;
  readonly hasMore: boolean;
  readonly loadingMore: boolean;
  readonly loadMore: () => void;
  readonly reload: () => void;
}

/**
 * A list read a page at a time. `refreshMs` refreshes the pages already shown (live refresh).
 */
export function usePaged<T>(
  key: QueryKey,
  loadPage: (continuationToken: string | undefined, signal: AbortSignal) => Promise<Page<T>>,
  options: { refreshMs?: number | false; enabled?: boolean } = {},
): Paged<T> {
  const query = useInfiniteQuery({
    queryKey: key,
    queryFn: ({ pageParam, signal }) => loadPage(pageParam, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.continuationToken ?? undefined,
    refetchInterval: options.refreshMs ?? false,
    enabled: options.enabled ?? true,
  });
  return {
    items: query.data?.pages.flatMap((p) => p.items) ?? [],
    error: query.error ?? undefined,
    loading: query.isPending,
    hasMore: query.hasNextPage,
    loadingMore: query.isFetchingNextPage,
    loadMore: () => void query.fetchNextPage(),
    reload: () => void query.refetch(),
  };
}

/**
 * A change (approve, submit, save): runs `change`, then refreshes every query whose key starts with
 * one of `refreshes`, so lists show the new state at once.
 */
export function useChange<I, O>(change: (input: I) => Promise<O>, refreshes: readonly QueryKey[]) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: change,
    onSuccess: async () => {
      await Promise.all(refreshes.map((queryKey) => client.invalidateQueries({ queryKey })));
    },
  });
}

export { useQuery, useQueryClient } from '@tanstack/react-query';
