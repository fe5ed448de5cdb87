// The JSON Schema subset the parse task's output_schema uses, checked the way the rig checks an
// answer: type (one or a list), properties, required, items, enum, const, additionalProperties
// false. Other keywords are ignored.

function typeName(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function fits(v, type) {
  if (type === 'integer') return Number.isInteger(v);
  if (type === 'number') return typeof v === 'number' && Number.isFinite(v);
  return typeName(v) === type;
}

const show = (v) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
};

/** The first place where value does not follow schema, as "<path>: expected …, found …", or null. */
export function schemaMismatch(value, schema, path = '$') {
  if (!schema || typeof schema !== 'object') return null;
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    return `${path}: expected one of ${schema.enum.map(show).join(', ')}, found ${show(value)}`;
  }
  if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) return `${path}: expected ${show(schema.const)}, found ${show(value)}`;
  const types = typeof schema.type === 'string' ? [schema.type] : Array.isArray(schema.type) ? schema.type : [];
  if (types.length && !types.some((t) => fits(value, t))) return `${path}: expected ${types.join(' or ')}, found ${typeName(value)} ${show(value)}`;
  if (typeName(value) === 'object') {
    const props = schema.properties && typeof schema.properties === 'object' ? schema.properties : {};
    for (const key of Array.isArray(schema.required) ? schema.required : []) {
      if (!(key in value)) return `${path}.${key}: required property is missing`;
    }
    for (const [key, sub] of Object.entries(props)) {
      const found = key in value ? schemaMismatch(value[key], sub, `${path}.${key}`) : null;
      if (found) return found;
    }
    const extra = schema.additionalProperties === false ? Object.keys(value).find((k) => !(k in props)) : undefined;
    if (extra !== undefined) return `${path}.${extra}: property not allowed by the schema (allowed: ${Object.keys(props).join(', ') || 'none'})`;
  }
  if (Array.isArray(value) && schema.items && typeof schema.items === 'object') {
    for (const [i, item] of value.entries()) {
      const found = schemaMismatch(item, schema.items, `${path}[${i}]`);
      if (found) return found;
    }
  }
  return null;
}
