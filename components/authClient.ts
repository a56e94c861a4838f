'use client';
import { createAuthClient } from 'better-auth/react';

/** better-auth's browser client (same origin): sign up, sign in, sign out, session hook. */
export const authClient = createAuthClient();
