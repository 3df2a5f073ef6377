"""srlm: reproducible study of small reasoning language models (SFT, KD, GRPO and hybrids)."""

__version__ = "0.1.0"
