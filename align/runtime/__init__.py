"""How this process runs: its rank among torchrun's processes, its torch threads, its seed, its progress bars and
the libraries' console noise. Every layer may use these; they use nothing of align but errors."""
