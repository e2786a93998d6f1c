// Typed linting: rules that need type information (floating promises, misused
// promises) catch the bugs that matter most in async controller and proxy code.
// The layout rules below keep the architecture in docs/development.md true:
// scripts/layout-rules.test.ts shows each one failing on a deliberate violation.
import js from "@eslint/js";
import importX, { createNodeResolver } from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";

/** An import that climbs out of its folder into one of `folders` (any depth). */
const into = (folders, message) => ({ regex: `^(\\.\\./)+(${folders.join("|")})(/|$)`, message });
const restrict = (...patterns) => ({ "no-restricted-imports": ["error", { patterns }] });
const noTestCode = into(["test"], "product code never imports test/ (move what both need to devenv/)");

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      "dist/",
      ".tmp/",
      "devenv/tools/",
      "bench/results/",
      "**/*.js",
      "!eslint.config.js",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "import-x": importX },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "no-restricted-syntax": [
        "error",
        { selector: "TSEnumDeclaration", message: "Use an `as const` object and a string union." },
        { selector: "TSModuleDeclaration[kind='namespace']", message: "Use modules, not namespaces." },
      ],
    },
  },
  {
    files: [
      "api/**/*.ts",
      "lib/**/*.ts",
      "operator/**/*.ts",
      "sidecar/**/*.ts",
      "cli/**/*.ts",
      "devenv/**/*.ts",
    ],
    ignores: ["**/*.test.ts"],
    // Relative imports name their .ts file, so Node's own resolution finds them.
    settings: {
      "import-x/extensions": [".ts", ".js"],
      "import-x/resolver-next": [createNodeResolver({ extensions: [".ts", ".js"] })],
    },
    rules: { "import-x/no-cycle": ["error", { ignoreExternal: true }] },
  },
  {
    files: ["api/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: restrict({
      regex: "^\\.\\./",
      message: "api/ is the shared contract: it imports nothing internal",
    }),
  },
  {
    files: ["lib/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: restrict(
      into(["lib", "operator", "sidecar", "devenv", "bench", "scripts"], "lib/ imports only api/"),
      noTestCode,
    ),
  },
  {
    files: ["sidecar/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: restrict(
      into(["operator"], "sidecar never imports operator (shared code belongs in api/ or lib/)"),
      into(["devenv", "bench", "scripts"], "product code never imports dev tooling"),
      noTestCode,
    ),
  },
  {
    files: ["operator/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: restrict(
      into(["sidecar"], "operator never imports sidecar (shared code belongs in api/ or lib/)"),
      into(["devenv", "bench", "scripts"], "product code never imports dev tooling"),
      noTestCode,
    ),
  },
  {
    // Dev tooling, the command (its `up` starts the local stack), and unit tests beside the
    // code may use devenv/ but never test/.
    files: [
      "devenv/**/*.ts",
      "bench/**/*.ts",
      "scripts/**/*.ts",
      "cli/**/*.ts",
      "{api,lib,operator,sidecar}/**/*.test.ts",
    ],
    rules: restrict(noTestCode),
  },
  { files: ["eslint.config.js"], ...tseslint.configs.disableTypeChecked },
);
