"""Tests of the code generator (``datadivr_codegen``) and of the packages it generates."""
