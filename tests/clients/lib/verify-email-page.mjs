// The page a verification link opens (LATCHKEY_VERIFY_URL): it reads `token` from its own
// address and calls verifyEmail with it. No sign-in is needed, and the link works once.
//
//   const outcome = await verifyEmailFromLink(graphqlUrl, window.location.href);
//   if (outcome.verified) showConfirmed(outcome.user.email);
//   else if (outcome.code === 'EMAIL_TAKEN') showAddressTaken();
//   else showAskForANewLink(); // INVALID_TOKEN: used, expired or replaced; resendVerificationEmail

import { graphqlFetch } from './fetch-client.mjs';
import { VERIFY_EMAIL } from './operations.mjs';

/**
 * @param {string} graphqlUrl the /graphql endpoint
 * @param {string} pageUrl the address the link opened, e.g. window.location.href
 * @returns {Promise<{ verified: true, user: object } | { verified: false, code: string }>}
 */
export async function verifyEmailFromLink(graphqlUrl, pageUrl) {
  const token = new URL(pageUrl).searchParams.get('token');
  if (!token) return { verified: false, code: 'INVALID_TOKEN' };
  const { data, errors } = await graphqlFetch(graphqlUrl, {
    query: VERIFY_EMAIL,
    variables: { token },
    operationName: 'VerifyEmail',
  });
  if (errors?.length) return { verified: false, code: errors[0].extensions?.code };
  return { verified: true, user: data.verifyEmail };
}
