// graphql-codegen: TypeScript types for the client tests' operations, from the schema that a
// running latchkey serves by introspection (run.sh starts one and sets LATCHKEY_GRAPHQL_URL).
import type { CodegenConfig } from '@graphql-codegen/cli';

const url = process.env.LATCHKEY_GRAPHQL_URL;
if (!url) throw new Error('Set LATCHKEY_GRAPHQL_URL to a running latchkey /graphql endpoint');

const config: CodegenConfig = {
  schema: url,
  documents: ['../../docs/operations/*.graphql'],
  config: {
    strictScalars: true,
    // JSON: an audit event's details, an object whose keys depend on its type.
    scalars: { DateTime: 'string', JSON: 'Record<string, unknown>' },
    useTypeImports: true,
  },
  generates: {
    // Every type of the schema: User, AuthPayload, the inputs, Query, Mutation.
    'generated/schema.ts': { plugins: ['typescript'] },
    // The variables and results of docs/operations/*.graphql (with the inputs they use).
    'generated/graphql.ts': { plugins: ['typescript-operations'] },
  },
};

export default config;
