"""Procedural 4D worlds of Gaussians built from a plan (`worldsim.world.builder`) out of object shapes
(`worldsim.world.shapes`): what the `procedural` generator renders and tiny-t2v trains on."""
