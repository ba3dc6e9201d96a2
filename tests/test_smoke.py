async def test_owner_creates_room_and_candidate_joins(owner, make_room, make_client):
    room = await make_room()
    assert room["state"] == "scheduled"
    cand = make_client()
    r = await cand.join(room["invites"]["candidate"])
    assert r.code == 302, r.body
    assert "invite=" not in r.headers["Location"]
    code, me = await cand.json("GET", f"interview/api/rooms/{room['id']}/me")
    assert code == 200, me
    assert me["role"] == "candidate"
