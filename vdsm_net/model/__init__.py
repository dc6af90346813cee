"""The shared vocabulary: the desired model, kernel objects, plan ops, errors, option tables."""
