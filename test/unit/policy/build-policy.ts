// Test helper: a Policy from YAML text, through the same schema and merge the catalog uses.
import { parse } from 'yaml';
import { mergePolicyFiles, type Policy } from '../../../src/core/policy/policy.js';
import { PolicyFileSchema } from '../../../src/core/policy/policy-schema.js';

export function policyFromYaml(text: string, file = 'test.yaml'): Policy {
  const policy = PolicyFileSchema.parse(parse(text));
  const { policy: merged, conflicts } = mergePolicyFiles([{ file, policy }]);
  if (conflicts.length > 0) throw new Error(`role conflicts: ${JSON.stringify(conflicts)}`);
  return merged;
}
