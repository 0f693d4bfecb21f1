"""SOQL for the local org: a lark grammar, an AST of frozen values, and an evaluator."""
