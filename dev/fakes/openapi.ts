/**
 * Validates requests against an API description (OpenAPI 3 or Swagger 2): finds the operation
 * for a method and path, then checks path and query parameters and the JSON body with ajv.
 * Fake provider servers use it to refuse (and record) anything the real API would not accept.
 *
 * @module
 */
import { Ajv, type ValidateFunction } from "ajv";

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: unknown;
  type?: string;
  $ref?: string;
}

interface Operation {
  operationId?: string;
  parameters?: Parameter[];
  requestBody?: {
    $ref?: string;
    required?: boolean;
    content?: Record<string, { schema?: unknown }>;
  };
}

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  names: string[];
  operation: Operation;
  shared: Parameter[];
}

/** A problem found in a request. */
export interface Violation {
  operation: string;
  where: string;
  message: string;
}

/** An API description ready to check requests. */
export class ApiSpec {
  #doc: Record<string, unknown>;
  #routes: Route[] = [];
  #ajv: Ajv;
  #validators = new Map<string, ValidateFunction>();
  readonly basePath: string;

  constructor(doc: Record<string, unknown>) {
    this.#doc = doc;
    this.#ajv = new Ajv({
      strict: false,
      allErrors: true,
      validateFormats: false,
      coerceTypes: false,
    });
    const isSwagger = typeof doc.swagger === "string";
    this.#ajv.addSchema(
      isSwagger ? { definitions: doc.definitions ?? {} } : { components: doc.components ?? {} },
      "spec",
    );
    this.basePath = isSwagger ? String(doc.basePath ?? "") : "";
    const paths = doc.paths as Record<string, Record<string, unknown>>;
    for (const [template, item] of Object.entries(paths)) {
      const names: string[] = [];
      const pattern = new RegExp(
        "^" +
          template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{([^}]+)\}/g, (_, n: string) => {
            names.push(n);
            return "([^/]+)";
          }) + "/?$",
      );
      const shared = ((item.parameters as Parameter[] | undefined) ?? []).map((p) =>
        this.#deref(p)
      );
      for (const method of ["get", "post", "put", "patch", "delete"]) {
        const operation = item[method] as Operation | undefined;
        if (operation) this.#routes.push({ method, template, pattern, names, operation, shared });
      }
    }
    // Literal segments beat templated ones (GitLab: /repository/commits/{sha} vs /statuses)
    this.#routes.sort((a, b) => a.names.length - b.names.length);
  }

  #deref<T>(value: T): T {
    const ref = (value as { $ref?: string }).$ref;
    if (!ref) return value;
    let node: unknown = this.#doc;
    for (const part of ref.replace(/^#\//, "").split("/")) {
      node = (node as Record<string, unknown>)[part.replace(/~1/g, "/").replace(/~0/g, "~")];
    }
    return this.#deref(node as T);
  }

  #validator(schema: unknown): ValidateFunction {
    const key = JSON.stringify(schema);
    const cached = this.#validators.get(key);
    if (cached) return cached;
    const v = this.#ajv.compile(rewriteRefs(schema) as Record<string, unknown>);
    this.#validators.set(key, v);
    return v;
  }

  /**
   * Checks one request.
   *
   * @param method HTTP method
   * @param path the path relative to the API base (query excluded)
   * @param query the query parameters
   * @param body the parsed JSON body, if any
   * @returns the operation id (or template) and the problems found; `operation` undefined when
   *   no operation matches
   */
  check(
    method: string,
    path: string,
    query: URLSearchParams,
    body: unknown,
  ): { operation?: string; violations: Violation[] } {
    const m = method.toLowerCase();
    const route = this.#routes.find((r) => r.method === m && r.pattern.test(path));
    if (!route) {
      return {
        violations: [{
          operation: "-",
          where: "path",
          message: `no operation for ${method} ${path}`,
        }],
      };
    }
    const operation = route.operation.operationId ?? `${method} ${route.template}`;
    const violations: Violation[] = [];
    const add = (where: string, message: string) => violations.push({ operation, where, message });
    const values = route.pattern.exec(path)!.slice(1).map((s) => decodeURIComponent(s));
    const params = [
      ...route.shared,
      ...(route.operation.parameters ?? []).map((p) => this.#deref(p)),
    ];
    for (const p of params) {
      const schema = p.schema ?? (p.type ? { type: p.type } : undefined);
      let raw: string | undefined;
      if (p.in === "path") raw = values[route.names.indexOf(p.name)];
      else if (p.in === "query") raw = query.get(p.name) ?? undefined;
      else if (p.in === "body") {
        if (body === undefined) {
          if (p.required) add("body", "a JSON body is required");
        } else if (p.schema) this.#validate(p.schema, body, "body", add);
        continue;
      } else continue;
      if (raw === undefined) {
        if (p.required) add(`${p.in}.${p.name}`, "is required");
        continue;
      }
      if (schema) {
        this.#validate(schema, coerce(raw, this.#deref(schema)), `${p.in}.${p.name}`, add);
      }
    }
    for (const key of query.keys()) {
      if (!params.some((p) => p.in === "query" && p.name === key)) {
        add(`query.${key}`, "is not a parameter of this operation");
      }
    }
    const requestBody = route.operation.requestBody
      ? this.#deref(route.operation.requestBody)
      : undefined;
    if (requestBody) {
      const schema = requestBody.content?.["application/json"]?.schema;
      if (body === undefined) {
        if (requestBody.required) add("body", "a JSON body is required");
      } else if (schema) this.#validate(schema, body, "body", add);
    }
    return { operation, violations };
  }

  #validate(schema: unknown, value: unknown, where: string, add: (w: string, m: string) => void) {
    const v = this.#validator(schema);
    if (!v(value)) {
      for (const e of v.errors ?? []) {
        add(`${where}${e.instancePath.replaceAll("/", ".")}`, e.message ?? "invalid");
      }
    }
  }
}

function coerce(raw: string, schema: unknown): unknown {
  const type = (schema as { type?: string })?.type;
  if ((type === "integer" || type === "number") && raw !== "" && !Number.isNaN(Number(raw))) {
    return Number(raw);
  }
  if (type === "boolean" && (raw === "true" || raw === "false")) return raw === "true";
  return raw;
}

function rewriteRefs(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rewriteRefs);
  if (schema && typeof schema === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(schema)) {
      out[k] = k === "$ref" && typeof v === "string" && v.startsWith("#/")
        ? `spec${v}`
        : rewriteRefs(v);
    }
    return out;
  }
  return schema;
}
