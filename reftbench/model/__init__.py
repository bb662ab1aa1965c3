"""The embedded default model (a small Qwen2.5-VL built offline) and loading of any checkpoint.

`load.load_model(name_or_path)` is the entry point: "base", a preset name ("random-micro", "random-tiny"), a
checkpoint folder or a hub id gives back (model, processor); `names` decides what a name means
and where it loads from. `presets` holds the sizes, `tokenizer` and `processor` the locally
trained tokenizer and the image-only Qwen processor, `build` the writer. Nothing heavy is
imported here.
"""
