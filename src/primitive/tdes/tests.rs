use super::*;
use cipher::BlockEncrypt;

fn des_oracle(key: &[u8; 24], block: [u8; 8]) -> [u8; 8] {
    let des = <des::TdesEde3 as KeyInit>::new(GenericArray::from_slice(key));
    let mut b = GenericArray::from(block);
    BlockEncrypt::encrypt_block(&des, &mut b);
    b.into()
}

#[test]
fn smoke() {
    let key: [u8; 24] = core::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    let mut b = *b"abcdefgh";
    TdesEde3::new(&key).encrypt_block(&mut b);
    assert_eq!(b, des_oracle(&key, *b"abcdefgh"));
}
