import { useQuery } from '@tanstack/react-query';
import { api, ApiError } from './api.ts';

export const meKey = ['me'] as const;

/** Who is logged in: null when nobody is (the API answered 401). */
export function useSession() {
  return useQuery({
    queryKey: meKey,
    queryFn: async () => {
      try {
        return await api.me();
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return null;
        throw error;
      }
    },
    staleTime: 60_000,
  });
}
