import numpy as np
import pytest
import torch

from dancegen.errors import InputFileError
from dancegen.export.smpl_params import smpl_model_type, write_smpl_npz
from dancegen.motion.formats import read_smpl_npz
from dancegen.motion.motion import Motion
from dancegen.skeleton.axes import Y_UP_TO_Z_UP, y_up_to_z_up
from dancegen.skeleton.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from dancegen.skeleton.smpl import smpl24
from dancegen.skeleton.smplx import SMPLX_PELVIS_REST
from dancegen.skeleton.tree import Skeleton


def test_layout_and_both_readers(dance, tmp_path):
    path = write_smpl_npz(dance, tmp_path / "dance.npz")
    with np.load(path, allow_pickle=False) as data:
        assert data["poses"].shape == (dance.num_frames, 72)
        np.testing.assert_array_equal(data["trans"], dance.root_translation)
        np.testing.assert_array_equal(data["betas"], np.zeros(10))
        assert str(data["gender"]) == "neutral" and str(data["model_type"]) == "smpl"
        assert float(data["mocap_framerate"]) == dance.fps and str(data["up_axis"]) == "y"
        assert tuple(data["joint_names"]) == dance.skeleton.joint_names
        poses = data["poses"]
    # The axis-angle poses rebuild the same rotation matrices.
    rebuilt = axis_angle_to_matrix(torch.from_numpy(poses.reshape(-1, 24, 3))).numpy()
    np.testing.assert_allclose(rebuilt, dance.rotation_matrices(), atol=1e-9)
    # Read back as a dancegen motion (lossless) and as plain SMPL parameters.
    as_motion = Motion.load_npz(path)
    np.testing.assert_array_equal(as_motion.rotations, dance.rotations)
    assert as_motion.metadata == dance.metadata
    as_smpl = read_smpl_npz(path)
    np.testing.assert_allclose(as_smpl.joint_positions(), dance.joint_positions(), atol=1e-9)


def test_model_type_by_skeleton(dance, hands_dance, tmp_path):
    assert smpl_model_type(dance.skeleton) == "smpl"
    assert smpl_model_type(hands_dance.skeleton) == "smplx"
    other = Skeleton("pair", ("a", "b"), (-1, 0), np.array([[0, 0, 0], [0, 1.0, 0]]))
    assert smpl_model_type(other) == "skeleton"
    with np.load(write_smpl_npz(hands_dance, tmp_path / "h.npz"), allow_pickle=False) as data:
        assert data["poses"].shape == (hands_dance.num_frames, 156)
        np.testing.assert_allclose(data["transl"] + SMPLX_PELVIS_REST, hands_dance.root_translation)


def test_z_up_files_are_turned_y_up(dance, tmp_path):
    poses = matrix_to_axis_angle(torch.from_numpy(dance.rotation_matrices())).numpy()
    poses[:, 0] = matrix_to_axis_angle(torch.from_numpy(Y_UP_TO_Z_UP @ dance.rotation_matrices()[:, 0])).numpy()
    path = tmp_path / "amass_like.npz"
    np.savez(path, poses=poses.reshape(len(poses), -1), trans=y_up_to_z_up(dance.root_translation),
             mocap_framerate=np.array(dance.fps), up_axis=np.array("z"))
    back = read_smpl_npz(path)
    np.testing.assert_allclose(back.joint_positions(), dance.joint_positions(), atol=1e-9)


@pytest.mark.parametrize("arrays, problem", [
    ({"trans": np.zeros((4, 3)), "fps": np.array(30.0)}, "no poses"),
    ({"poses": np.zeros((4, 70)), "trans": np.zeros((4, 3)), "fps": np.array(30.0)}, "do not fit 24 joints"),
    ({"poses": np.zeros((4, 72)), "trans": np.zeros((4, 3))}, "no mocap_framerate or fps"),
])
def test_bad_parameter_files(tmp_path, arrays, problem):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputFileError, match=problem):
        read_smpl_npz(path, smpl24())
