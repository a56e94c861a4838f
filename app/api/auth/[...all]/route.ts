import { getRuntime } from '~/server/runtimeRegistry';

// better-auth serves sign-up, sign-in, sign-out and session endpoints under /api/auth/*.
function handler(req: Request) {
  return getRuntime().auth.handler(req);
}

export { handler as GET, handler as POST };
